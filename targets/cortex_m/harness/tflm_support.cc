/* What TFLite-Micro asks of its platform, on mnd's bare-metal harness: DebugLog and DebugVsnprintf (TFLM's
 * messages, to the emulator's console through semihosting), abort() (TFLITE_CHECK and TFLITE_ABORT: an
 * mnd-error line and exit code 6 instead of newlib's signal machinery, which needs an operating system) and
 * the C++ runtime's hooks for a program with no exceptions, no heap and no deleting of objects.
 * The formatter knows %d %i %u %x %c %s %p and %%, and skips flags, width, precision and length; a float
 * argument prints as "<float>". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "semihost.h"
}

namespace {

struct Sink {
  char* buffer;
  size_t size;
  size_t length;

  void put(char c)
  {
    if (length + 1 < size) buffer[length] = c;
    length++;
  }
  void text(const char* s)
  {
    for (; s && *s; s++) put(*s);
  }
  void number(unsigned long value, unsigned base, bool negative)
  {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = "0123456789abcdef"[value % base];
      value /= base;
    } while (value);
    if (negative) put('-');
    while (n) put(digits[--n]);
  }
};

int format(char* buffer, size_t size, const char* format, va_list args)
{
  Sink sink{buffer, size, 0};
  for (const char* p = format; *p; p++) {
    if (*p != '%') {
      sink.put(*p);
      continue;
    }
    p++;
    while (*p && (*p == '-' || *p == '+' || *p == ' ' || *p == '#' || *p == '0' || *p == '.' ||
                  (*p >= '1' && *p <= '9') || *p == 'l' || *p == 'z' || *p == 'h'))
      p++;
    switch (*p) {
      case 'd':
      case 'i': {
        long value = va_arg(args, int);
        sink.number(value < 0 ? 0UL - (unsigned long)value : (unsigned long)value, 10, value < 0);
        break;
      }
      case 'u': sink.number(va_arg(args, unsigned), 10, false); break;
      case 'x': sink.number(va_arg(args, unsigned), 16, false); break;
      case 'p': sink.text("0x"); sink.number((uintptr_t)va_arg(args, void*), 16, false); break;
      case 'c': sink.put((char)va_arg(args, int)); break;
      case 's': sink.text(va_arg(args, const char*)); break;
      case 'f':
      case 'e':
      case 'g': (void)va_arg(args, double); sink.text("<float>"); break;
      case '\0': p--; break;
      default: sink.put(*p); break;
    }
  }
  if (size) buffer[sink.length < size ? sink.length : size - 1] = '\0';
  return (int)sink.length;
}

}  // namespace

extern "C" int DebugVsnprintf(char* buffer, size_t size, const char* format_text, va_list args)
{
  return format(buffer, size, format_text, args);
}

extern "C" void DebugLog(const char* format_text, va_list args)
{
  char line[256];
  format(line, sizeof line, format_text, args);
  mnd_sh_print(line);
}

extern "C" void abort(void)
{
  mnd_sh_print("\nmnd-error: tflm: abort (a TFLITE_CHECK failed or TFLite-Micro gave up)\n");
  mnd_sh_exit(6);
}

extern "C" void __cxa_pure_virtual(void)
{
  mnd_sh_print("\nmnd-error: tflm: a pure virtual function was called\n");
  mnd_sh_exit(6);
}

/* Referenced by the deleting destructors of classes with virtual destructors; nothing here is ever deleted. */
void operator delete(void*) noexcept {}
void operator delete(void*, size_t) noexcept {}
