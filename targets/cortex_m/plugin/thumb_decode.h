/* Thumb / Thumb-2 instruction classes, decoded from an instruction's bytes as far as a cycle cost needs
 * (ARMv7-M / ARMv8-M / ARMv8.1-M encodings: the ARM Architecture Reference Manuals' 16-bit and 32-bit tables). */
#ifndef MND_THUMB_DECODE_H
#define MND_THUMB_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum insn_kind {
    K_ALU,          /* data processing, shifts, extends, saturation, SIMD arithmetic, hints, MSR/MRS */
    K_MUL,          /* MUL, MLA, MLS, the DSP multiplies and multiply-accumulates, long multiplies */
    K_DIV,          /* SDIV, UDIV */
    K_LOAD,         /* LDR, LDRB, LDRH, LDRSB, LDRSH (any addressing), LDREX, STREX */
    K_STORE,        /* STR, STRB, STRH */
    K_DUAL,         /* LDRD, STRD */
    K_LOAD_MULTI,   /* LDM, POP */
    K_STORE_MULTI,  /* STM, PUSH */
    K_BRANCH,       /* B, B<c>, BL, BX, BLX, CBZ, CBNZ, MOV/ADD PC */
    K_TABLE_BRANCH, /* TBB, TBH */
    K_IT,           /* IT */
    K_FP,           /* VFP: VADD, VSUB, VMUL, VABS, VNEG, VCMP, VCVT, VMOV, VMRS/VMSR */
    K_FP_MAC,       /* VFP: VMLA, VMLS, VNMLA, VNMLS, VFMA, VFMS, VFNMA, VFNMS */
    K_FP_DIV,       /* VFP: VDIV, VSQRT */
    K_FP_LOAD,      /* VFP: VLDR, VSTR */
    K_FP_MULTI,     /* VFP: VLDM, VSTM, VPUSH, VPOP */
    K_FP_MOV2,      /* VFP: VMOV between two core registers and two S / one D register */
    K_VECTOR_MEM,   /* MVE (Helium) vector loads and stores */
    K_VECTOR,       /* MVE (Helium) vector arithmetic */
    K_LOOP_END,     /* Armv8.1-M LE, LETP (low-overhead loop end) */
    K_LOOP_START    /* Armv8.1-M DLS, DLSTP, WLS, WLSTP */
};

struct decoded {
    enum insn_kind kind;
    unsigned size;      /* bytes: 2 or 4 */
    unsigned regs;      /* LDM/STM/PUSH/POP: registers moved; VLDM/VSTM: words moved */
    int writes_pc;      /* may change the flow: a branch, or a load or data operation into PC */
    int indirect;       /* the target comes from a register or memory (BX, POP {pc}, LDR pc, MOV pc) */
    int dest;           /* K_LOAD: the loaded register, else -1 */
    unsigned address;   /* K_LOAD, K_STORE: bit mask of the registers that form the address */
};

/* `bytes` as stored in memory (little-endian halfwords); `size` 2 or 4 as QEMU translated it. */
void thumb_decode(const uint8_t* bytes, size_t size, struct decoded* out);

#endif
