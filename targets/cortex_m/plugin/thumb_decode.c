/* Thumb / Thumb-2 decoding into the classes a cycle cost needs; see thumb_decode.h. Bit patterns follow the
 * ARMv7-M Architecture Reference Manual (A5.2 16-bit, A5.3 32-bit encodings), with the Armv8.1-M additions
 * (low-overhead loops in the old BLX-immediate slot; MVE in the coprocessor space). */
#include "thumb_decode.h"

#define PC 15
#define SP 13

static unsigned bits(unsigned value, unsigned high, unsigned low)
{
    return (value >> low) & ((1u << (high - low + 1)) - 1);
}

static unsigned popcount(unsigned value)
{
    return (unsigned)__builtin_popcount(value);
}

static void set_load(struct decoded* d, unsigned rt, unsigned rn, int rm)
{
    d->kind = K_LOAD;
    d->dest = (int)rt;
    d->address = (1u << rn) | (rm >= 0 ? 1u << rm : 0);
    if (rt == PC) {
        d->writes_pc = 1;
        d->indirect = 1;
    }
}

static void set_store(struct decoded* d, unsigned rn, int rm)
{
    d->kind = K_STORE;
    d->address = (1u << rn) | (rm >= 0 ? 1u << rm : 0);
}

static void set_branch(struct decoded* d, int indirect)
{
    d->kind = K_BRANCH;
    d->writes_pc = 1;
    d->indirect = indirect;
}

static void decode16(unsigned h, struct decoded* d)
{
    if ((h & 0xFC00) == 0x4000) {                         /* data processing; MULS is opcode 1101 */
        d->kind = (h & 0xFFC0) == 0x4340 ? K_MUL : K_ALU;
    } else if ((h & 0xFC00) == 0x4400) {                  /* special data processing, BX, BLX */
        unsigned op = bits(h, 9, 8), rd = (h & 7) | (bits(h, 7, 7) << 3);
        if (op == 3 || (op != 1 && rd == PC))
            set_branch(d, 1);
    } else if ((h & 0xF800) == 0x4800) {                  /* LDR (literal) */
        set_load(d, bits(h, 10, 8), PC, -1);
    } else if ((h & 0xF000) == 0x5000) {                  /* load/store, register offset */
        if (bits(h, 11, 9) < 3)
            set_store(d, bits(h, 5, 3), (int)bits(h, 8, 6));
        else
            set_load(d, bits(h, 2, 0), bits(h, 5, 3), (int)bits(h, 8, 6));
    } else if ((h & 0xE000) == 0x6000 || (h & 0xF000) == 0x8000) {  /* word/byte/halfword, immediate offset */
        if (h & 0x0800)
            set_load(d, bits(h, 2, 0), bits(h, 5, 3), -1);
        else
            set_store(d, bits(h, 5, 3), -1);
    } else if ((h & 0xF000) == 0x9000) {                  /* SP-relative */
        if (h & 0x0800)
            set_load(d, bits(h, 10, 8), SP, -1);
        else
            set_store(d, SP, -1);
    } else if ((h & 0xF500) == 0xB100) {                  /* CBZ, CBNZ */
        set_branch(d, 0);
    } else if ((h & 0xFE00) == 0xB400) {                  /* PUSH {reglist[, lr]} */
        d->kind = K_STORE_MULTI;
        d->regs = popcount(h & 0x1FF);
    } else if ((h & 0xFE00) == 0xBC00) {                  /* POP {reglist[, pc]} */
        d->kind = K_LOAD_MULTI;
        d->regs = popcount(h & 0x1FF);
        d->writes_pc = d->indirect = (h & 0x100) != 0;
    } else if ((h & 0xFF00) == 0xBF00 && (h & 0xF) != 0) { /* IT (the rest of BFxx are hints) */
        d->kind = K_IT;
    } else if ((h & 0xF000) == 0xC000) {                  /* STM, LDM */
        d->kind = (h & 0x0800) ? K_LOAD_MULTI : K_STORE_MULTI;
        d->regs = popcount(h & 0xFF);
    } else if ((h & 0xF000) == 0xD000) {                  /* B<c>; condition 1110 is UDF, 1111 SVC */
        if (bits(h, 11, 8) < 0xE)
            set_branch(d, 0);
    } else if ((h & 0xF800) == 0xE000) {                  /* B */
        set_branch(d, 0);
    }
}

static void decode_coprocessor(unsigned a, unsigned b, struct decoded* d)
{
    if ((b & 0x0E00) != 0x0A00 || (a & 0x0F00) == 0x0F00) {  /* not cp10/cp11, or the Advanced SIMD space
                                                                  * (EF/FF, e.g. VQRDMULH): MVE on Armv8.1-M */
        d->kind = (a & 0xEE00) == 0xEC00 ? K_VECTOR_MEM : K_VECTOR;
        return;
    }
    if ((a & 0xF000) == 0xF000) {                         /* unconditional: VSEL, VMAXNM, VRINTx, VCVTx */
        d->kind = K_FP;
        return;
    }
    if ((a & 0xEF00) == 0xEE00) {
        if (b & 0x10) {                                   /* VMOV core <-> S, VMRS, VMSR */
            d->kind = K_FP;
            return;
        }
        unsigned opc1 = bits(a, 7, 4) & 0xB, opc2 = bits(a, 3, 0), opc3 = bits(b, 7, 6);
        if (opc1 == 0x0 || opc1 == 0x1 || opc1 == 0x9 || opc1 == 0xA)
            d->kind = K_FP_MAC;
        else if (opc1 == 0x8 || (opc1 == 0xB && opc2 == 0x1 && opc3 == 0x3))
            d->kind = K_FP_DIV;
        else
            d->kind = K_FP;
    } else if ((a & 0xEFE0) == 0xEC40) {                  /* VMOV two core registers */
        d->kind = K_FP_MOV2;
    } else if ((a & 0xEF30) == 0xED00 || (a & 0xEF30) == 0xED10) {  /* VLDR, VSTR (P=1, W=0) */
        d->kind = K_FP_LOAD;
    } else {                                              /* VLDM, VSTM, VPUSH, VPOP */
        d->kind = K_FP_MULTI;
        d->regs = bits(b, 7, 0);
    }
}

static void decode_load_store_single(unsigned a, unsigned b, struct decoded* d)
{
    unsigned rn = bits(a, 3, 0), rt = bits(b, 15, 12);
    int rm = (!(a & 0x0080) && rn != PC && bits(b, 11, 6) == 0) ? (int)bits(b, 3, 0) : -1;
    if ((a & 0xFF10) == 0xF800) {
        set_store(d, rn, rm);
    } else if (rt == PC && (a & 0xFE70) != 0xF850) {
        d->kind = K_ALU;                                  /* PLD, PLI: hints */
    } else {
        set_load(d, rt, rn, rm);
    }
}

static void decode32(unsigned a, unsigned b, struct decoded* d)
{
    if ((a & 0xEC00) == 0xEC00) {
        decode_coprocessor(a, b, d);
    } else if ((a & 0xFE40) == 0xE800) {                  /* LDM, STM (PUSH.W, POP.W) */
        d->kind = (a & 0x10) ? K_LOAD_MULTI : K_STORE_MULTI;
        d->regs = popcount(b & 0xDFFF);
        d->writes_pc = d->indirect = (a & 0x10) && (b & 0x8000);
    } else if ((a & 0xFE40) == 0xE840) {                  /* exclusives, LDRD/STRD, TBB/TBH */
        if ((a & 0xFFF0) == 0xE8D0 && (b & 0x00E0) == 0x0000) {
            d->kind = K_TABLE_BRANCH;
            d->writes_pc = d->indirect = 1;
        } else if ((a & 0xFFE0) == 0xE840 || ((a & 0xFFE0) == 0xE8C0 && bits(b, 7, 6) == 1)) {
            set_load(d, bits(b, 15, 12), bits(a, 3, 0), -1);  /* LDREX/STREX: pipelined like LDR (TRM) */
            d->dest = (a & 0x10) ? d->dest : -1;
        } else {
            d->kind = K_DUAL;
        }
    } else if ((a & 0xF800) == 0xF000 && (b & 0x8000)) {  /* branches and miscellaneous control */
        unsigned op = b & 0xD000;
        if (op == 0xC000)                                 /* Armv8.1-M: LE/LETP (Rn=1111), WLS, DLS */
            d->kind = (bits(b, 15, 12) == 0xC && bits(a, 3, 0) == 0xF) ? K_LOOP_END : K_LOOP_START;
        else if (op == 0x9000 || op == 0xD000 || bits(a, 9, 7) != 0x7)
            set_branch(d, 0);                             /* B.W, BL, B<c>.W */
        if (d->kind == K_LOOP_END || d->kind == K_LOOP_START)
            d->writes_pc = 1;
    } else if ((a & 0xFE00) == 0xF800 && bits(a, 6, 4) != 0x7) {  /* load/store single, memory hints */
        if ((a & 0xFF10) == 0xF800 || (a & 0xFE10) == 0xF810)
            decode_load_store_single(a, b, d);
    } else if ((a & 0xFF80) == 0xFB00) {                  /* multiply, multiply-accumulate */
        d->kind = K_MUL;
    } else if ((a & 0xFF80) == 0xFB80) {                  /* long multiply, divide */
        d->kind = bits(b, 7, 4) == 0xF ? K_DIV : K_MUL;
    }
}

void thumb_decode(const uint8_t* bytes, size_t size, struct decoded* out)
{
    unsigned first = bytes[0] | (unsigned)bytes[1] << 8;
    *out = (struct decoded){.kind = K_ALU, .size = (unsigned)size, .dest = -1};
    if (size == 4)
        decode32(first, bytes[2] | (unsigned)bytes[3] << 8, out);
    else
        decode16(first, out);
}
