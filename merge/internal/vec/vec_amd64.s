//go:build amd64 && !purego

#include "textflag.h"

// func mulTo(a *float64, x *float32, w float64, n int)
TEXT ·mulTo(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSD w+16(FP), Y15
	MOVQ n+24(FP), CX
multo_loop:
	VCVTPS2PD (SI), Y0
	VMULPD Y15, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ multo_loop
	VZEROUPPER
	RET

// func addMul(a *float64, x *float32, w float64, n int)
TEXT ·addMul(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSD w+16(FP), Y15
	MOVQ n+24(FP), CX
addmul_loop:
	VCVTPS2PD (SI), Y0
	VMULPD Y15, Y0, Y0
	VADDPD (DI), Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ addmul_loop
	VZEROUPPER
	RET

// func narrow(o *float32, a *float64, s float64, n int)
TEXT ·narrow(SB), NOSPLIT, $0-32
	MOVQ o+0(FP), DI
	MOVQ a+8(FP), SI
	VBROADCASTSD s+16(FP), Y15
	MOVQ n+24(FP), CX
narrow_loop:
	VMULPD (SI), Y15, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ narrow_loop
	VZEROUPPER
	RET

// func sumSqDiff(d *[4]float64, x, y *float32, n int)
// Lane l of the accumulator sums the elements j = l mod 4, as the Go loop's d[l] does.
TEXT ·sumSqDiff(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VXORPD Y8, Y8, Y8
sumsq_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VCVTPS2PD X0, Y0
	VMULPD Y0, Y0, Y0
	VADDPD Y0, Y8, Y8
	ADDQ $16, SI
	ADDQ $16, DX
	SUBQ $4, CX
	JNZ sumsq_loop
	VMOVUPD Y8, (DI)
	VZEROUPPER
	RET

// func countEqual(x, y *float32, n int) int64
TEXT ·countEqual(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DX
	MOVQ n+16(FP), CX
	XORQ BX, BX
counteq_loop:
	VMOVUPS (SI), Y0
	VCMPPS $0, (DX), Y0, Y0
	VMOVMSKPS Y0, AX
	POPCNTL AX, AX
	ADDQ AX, BX
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ counteq_loop
	MOVQ BX, ret+24(FP)
	VZEROUPPER
	RET

// func addTask(acc *float64, x, base *float32, w, s float64, n int)
TEXT ·addTask(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	VBROADCASTSD w+24(FP), Y14
	VBROADCASTSD s+32(FP), Y15
	MOVQ n+40(FP), CX
addtask_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VCVTPS2PD X0, Y0
	VMULPD Y14, Y0, Y0
	VMULPD Y15, Y0, Y0
	VADDPD (DI), Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ addtask_loop
	VZEROUPPER
	RET

// func addTaskKept(acc *float64, x, base *float32, u *uint32, thr uint32, w, s float64, n int)
// u < thr as unsigned is (u ^ 2^31) < (thr ^ 2^31) as signed, which VPCMPGTD compares.
TEXT ·addTaskKept(SB), NOSPLIT, $0-64
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	MOVQ u+24(FP), R8
	MOVL thr+32(FP), AX
	XORL $0x80000000, AX
	MOVL AX, X12
	VPBROADCASTD X12, X12
	MOVL $0x80000000, AX
	MOVL AX, X13
	VPBROADCASTD X13, X13
	VBROADCASTSD w+40(FP), Y14
	VBROADCASTSD s+48(FP), Y15
	MOVQ n+56(FP), CX
addtaskkept_loop:
	VMOVDQU (R8), X1
	VPXOR X13, X1, X1
	VPCMPGTD X1, X12, X2
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VPAND X2, X0, X0
	VCVTPS2PD X0, Y0
	VMULPD Y14, Y0, Y0
	VMULPD Y15, Y0, Y0
	VADDPD (DI), Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, R8
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ addtaskkept_loop
	VZEROUPPER
	RET

// func addBase(o, base *float32, acc *float64, lambda float64, n int)
TEXT ·addBase(SB), NOSPLIT, $0-40
	MOVQ o+0(FP), DI
	MOVQ base+8(FP), DX
	MOVQ acc+16(FP), SI
	VBROADCASTSD lambda+24(FP), Y14
	MOVQ n+32(FP), CX
addbase_loop:
	VMULPD (SI), Y14, Y0
	VCVTPS2PD (DX), Y1
	VADDPD Y0, Y1, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)
	ADDQ $32, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ addbase_loop
	VZEROUPPER
	RET

// func addBaseDiv(o, base *float32, acc *float64, div, lambda float64, n int)
TEXT ·addBaseDiv(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ base+8(FP), DX
	MOVQ acc+16(FP), SI
	VBROADCASTSD div+24(FP), Y13
	VBROADCASTSD lambda+32(FP), Y14
	MOVQ n+40(FP), CX
addbasediv_loop:
	VMOVUPD (SI), Y0
	VDIVPD Y13, Y0, Y0
	VMULPD Y14, Y0, Y0
	VCVTPS2PD (DX), Y1
	VADDPD Y0, Y1, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)
	ADDQ $32, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ addbasediv_loop
	VZEROUPPER
	RET

// func dotTask(d *[4]float64, x, y, base *float32, n int)
TEXT ·dotTask(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ base+24(FP), DX
	MOVQ n+32(FP), CX
	VXORPD Y8, Y8, Y8
dottask_loop:
	VMOVUPS (DX), X2
	VMOVUPS (SI), X0
	VSUBPS X2, X0, X0
	VMOVUPS (R8), X1
	VSUBPS X2, X1, X1
	VCVTPS2PD X0, Y0
	VCVTPS2PD X1, Y1
	VMULPD Y1, Y0, Y0
	VADDPD Y0, Y8, Y8
	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $16, DX
	SUBQ $4, CX
	JNZ dottask_loop
	VMOVUPD Y8, (DI)
	VZEROUPPER
	RET

// func blend(o, base *float32, acc *float64, div, t float64, n int)
TEXT ·blend(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ base+8(FP), DX
	MOVQ acc+16(FP), SI
	VBROADCASTSD div+24(FP), Y13
	VBROADCASTSD t+32(FP), Y14
	MOVSD $1.0, X15
	VSUBSD t+32(FP), X15, X15
	VBROADCASTSD X15, Y15
	MOVQ n+40(FP), CX
blend_loop:
	VMOVUPD (SI), Y0
	VDIVPD Y13, Y0, Y0
	VMULPD Y14, Y0, Y0
	VCVTPS2PD (DX), Y1
	VMULPD Y15, Y1, Y1
	VADDPD Y1, Y0, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)
	ADDQ $32, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ blend_loop
	VZEROUPPER
	RET

// func addSqDev(v *float64, x, base *float32, mean *float64, n int)
TEXT ·addSqDev(SB), NOSPLIT, $0-40
	MOVQ v+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	MOVQ mean+24(FP), R8
	MOVQ n+32(FP), CX
addsqdev_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VCVTPS2PD X0, Y0
	VSUBPD (R8), Y0, Y0
	VMULPD Y0, Y0, Y0
	VMOVUPD (DI), Y1
	VADDPD Y0, Y1, Y0
	VMOVUPD Y0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $32, R8
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ addsqdev_loop
	VZEROUPPER
	RET

// func quotients(a *float64, div float64, n int)
TEXT ·quotients(SB), NOSPLIT, $0-24
	MOVQ a+0(FP), DI
	VBROADCASTSD div+8(FP), Y15
	MOVQ n+16(FP), CX
quotients_loop:
	VMOVUPD (DI), Y0
	VDIVPD Y15, Y0, Y0
	VMOVUPD Y0, (DI)
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ quotients_loop
	VZEROUPPER
	RET

// func elect(mixed, div, wd *float64, s32 *float32, w float64, n int)
// agree = (wd > 0 and s32 >= 0) or (wd < 0 and not s32 >= 0), all ordered compares (false
// for NaN), as Go's comparisons.
TEXT ·elect(SB), NOSPLIT, $0-48
	MOVQ mixed+0(FP), DI
	MOVQ div+8(FP), R8
	MOVQ wd+16(FP), SI
	MOVQ s32+24(FP), DX
	VBROADCASTSD w+32(FP), Y15
	MOVQ n+40(FP), CX
	VXORPD Y14, Y14, Y14
elect_loop:
	VMOVUPD (SI), Y0
	VMOVUPS (DX), X1
	VCMPPS $0x1d, X14, X1, X1
	VPMOVSXDQ X1, Y1
	VCMPPD $0x1e, Y14, Y0, Y2
	VCMPPD $0x11, Y14, Y0, Y3
	VANDPD Y1, Y2, Y2
	VANDNPD Y3, Y1, Y3
	VORPD Y3, Y2, Y2
	VANDPD Y2, Y0, Y0
	VMOVUPD (DI), Y4
	VADDPD Y0, Y4, Y4
	VMOVUPD Y4, (DI)
	VANDPD Y15, Y2, Y2
	VMOVUPD (R8), Y5
	VADDPD Y2, Y5, Y5
	VMOVUPD Y5, (R8)
	ADDQ $32, SI
	ADDQ $16, DX
	ADDQ $32, DI
	ADDQ $32, R8
	SUBQ $4, CX
	JNZ elect_loop
	VZEROUPPER
	RET

// func pruneAbove(d, x, base *float32, cut uint32, n int) bool
// Keys are below 2^31, so the signed compare of VPCMPGTD orders them as unsigned.
TEXT ·pruneAbove(SB), NOSPLIT, $0-41
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	MOVL cut+24(FP), AX
	MOVL AX, X15
	VPBROADCASTD X15, X15
	MOVL $0x7fffffff, AX
	MOVL AX, X14
	VPBROADCASTD X14, X14
	MOVQ n+32(FP), CX
	VPXOR X13, X13, X13
prune_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VPAND X14, X0, X1
	VPCMPEQD X15, X1, X2
	VPOR X2, X13, X13
	VPCMPGTD X15, X1, X1
	VPAND X1, X0, X0
	VMOVUPS X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ prune_loop
	VPTEST X13, X13
	SETNE ret+40(FP)
	VZEROUPPER
	RET

// func dropAbove(d *float32, cut uint32, n int) bool
TEXT ·dropAbove(SB), NOSPLIT, $0-25
	MOVQ d+0(FP), DI
	MOVL cut+8(FP), AX
	MOVL AX, X15
	VPBROADCASTD X15, X15
	MOVL $0x7fffffff, AX
	MOVL AX, X14
	VPBROADCASTD X14, X14
	MOVQ n+16(FP), CX
	VPXOR X13, X13, X13
drop_loop:
	VMOVUPS (DI), X0
	VPAND X14, X0, X1
	VPCMPEQD X15, X1, X2
	VPOR X2, X13, X13
	VPCMPGTD X15, X1, X1
	VPANDN X0, X1, X0
	VMOVUPS X0, (DI)
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ drop_loop
	VPTEST X13, X13
	SETNE ret+24(FP)
	VZEROUPPER
	RET

// func magKeys(keys *uint32, x, base *float32, n int)
TEXT ·magKeys(SB), NOSPLIT, $0-32
	MOVQ keys+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL $0x7fffffff, AX
	MOVL AX, X14
	VPBROADCASTD X14, X14
magkeys_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VPAND X14, X0, X0
	VMOVDQU X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ magkeys_loop
	VZEROUPPER
	RET

DATA vone<>+0(SB)/8, $1.0
GLOBL vone<>(SB), RODATA|NOPTR, $8

// func ramAdd(sum, cnt, lam *float64, x, base *float32, eps float32, lambda float64, n int)
TEXT ·ramAdd(SB), NOSPLIT, $0-64
	MOVQ sum+0(FP), DI
	MOVQ cnt+8(FP), R8
	MOVQ lam+16(FP), R9
	MOVQ x+24(FP), SI
	MOVQ base+32(FP), DX
	VBROADCASTSS eps+40(FP), X15
	VBROADCASTSD lambda+48(FP), Y14
	VBROADCASTSD vone<>(SB), Y13
	MOVL $0x7fffffff, AX
	MOVL AX, X12
	VPBROADCASTD X12, X12
	MOVQ n+56(FP), CX
ramadd_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VPAND X12, X0, X1
	VCMPPS $0x1e, X15, X1, X1
	VPMOVSXDQ X1, Y1
	VCVTPS2PD X0, Y0
	VANDPD Y1, Y0, Y0
	VMOVUPD (DI), Y2
	VADDPD Y0, Y2, Y2
	VMOVUPD Y2, (DI)
	VANDPD Y1, Y13, Y3
	VMOVUPD (R8), Y4
	VADDPD Y3, Y4, Y4
	VMOVUPD Y4, (R8)
	VMOVUPD (R9), Y5
	VBLENDVPD Y1, Y14, Y5, Y5
	VMOVUPD Y5, (R9)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $4, CX
	JNZ ramadd_loop
	VZEROUPPER
	RET

// func ramFinish(o, base *float32, sum, cnt, lam *float64, n int)
TEXT ·ramFinish(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ base+8(FP), DX
	MOVQ sum+16(FP), SI
	MOVQ cnt+24(FP), R8
	MOVQ lam+32(FP), R9
	MOVQ n+40(FP), CX
	VBROADCASTSD vone<>(SB), Y13
ramfinish_loop:
	VMOVUPD (SI), Y0
	VMOVUPD (R8), Y1
	VMAXPD Y13, Y1, Y2
	VDIVPD Y2, Y0, Y3
	VMULPD (R9), Y0, Y4
	VCMPPD $0, Y13, Y1, Y5
	VBLENDVPD Y5, Y4, Y3, Y3
	VCVTPS2PD (DX), Y6
	VADDPD Y3, Y6, Y3
	VCVTPD2PSY Y3, X3
	VMOVUPS X3, (DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ ramfinish_loop
	VZEROUPPER
	RET

// func weigh(wd *float64, d *float32, w, s float64, w32, s32 float32, n int)
TEXT ·weigh(SB), NOSPLIT, $0-48
	MOVQ wd+0(FP), DI
	MOVQ d+8(FP), SI
	VBROADCASTSD w+16(FP), Y15
	VBROADCASTSD s+24(FP), Y14
	VBROADCASTSS w32+32(FP), X13
	VBROADCASTSS s32+36(FP), X12
	MOVQ n+40(FP), CX
weigh_loop:
	VMOVUPS (SI), X0
	VCVTPS2PD X0, Y1
	VMULPD Y15, Y1, Y1
	VMULPD Y14, Y1, Y1
	VMOVUPD Y1, (DI)
	VMULPS X12, X0, X0
	VMULPS X13, X0, X0
	VMOVUPS X0, (SI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ weigh_loop
	VZEROUPPER
	RET

// func addF32(s, v *float32, n int)
TEXT ·addF32(SB), NOSPLIT, $0-24
	MOVQ s+0(FP), DI
	MOVQ v+8(FP), SI
	MOVQ n+16(FP), CX
addf32_loop:
	VMOVUPS (DI), X0
	VMOVUPS (SI), X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ addf32_loop
	VZEROUPPER
	RET

// func electFinish(out, base *float32, mixed, div *float64, lambda float64, normalize bool, n int)
TEXT ·electFinish(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ base+8(FP), DX
	MOVQ mixed+16(FP), SI
	MOVQ div+24(FP), R8
	VBROADCASTSD lambda+32(FP), Y15
	MOVBLZX normalize+40(FP), AX
	MOVQ n+48(FP), CX
	VBROADCASTSD vone<>(SB), Y13
	VXORPD Y14, Y14, Y14
	TESTQ AX, AX
	JZ electfinish_plain
electfinish_norm:
	VMOVUPD (R8), Y1
	VCMPPD $0, Y14, Y1, Y2
	VANDPD Y13, Y2, Y2
	VADDPD Y2, Y1, Y1
	VMOVUPD (SI), Y0
	VDIVPD Y1, Y0, Y0
	VMULPD Y15, Y0, Y0
	VCVTPS2PD (DX), Y3
	VADDPD Y0, Y3, Y3
	VCVTPD2PSY Y3, X3
	VMOVUPS X3, (DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ electfinish_norm
	VZEROUPPER
	RET
electfinish_plain:
	VMOVUPD (SI), Y0
	VMULPD Y15, Y0, Y0
	VCVTPS2PD (DX), Y3
	VADDPD Y0, Y3, Y3
	VCVTPD2PSY Y3, X3
	VMOVUPS X3, (DI)
	ADDQ $32, SI
	ADDQ $16, DX
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ electfinish_plain
	VZEROUPPER
	RET

// func bucketCounts(lo *int64, keys *uint32, hb uint32, n int) int64
TEXT ·bucketCounts(SB), NOSPLIT, $0-40
	MOVQ lo+0(FP), DI
	MOVQ keys+8(FP), SI
	MOVL hb+16(FP), AX
	MOVL AX, X15
	VPBROADCASTD X15, Y15
	MOVQ n+24(FP), CX
	VPXOR Y14, Y14, Y14
	XORQ R10, R10
bucket_loop:
	VMOVDQU (SI), Y0
	VPSRLD $16, Y0, Y1
	VPCMPEQD Y15, Y1, Y1
	VPCMPEQD Y14, Y0, Y2
	VMOVMSKPS Y2, AX
	POPCNTL AX, AX
	ADDQ AX, R10
	VPANDN Y1, Y2, Y1
	VMOVMSKPS Y1, BX
	TESTL BX, BX
	JZ bucket_next
bucket_bits:
	BSFL BX, AX
	MOVL (SI)(AX*4), DX
	ANDL $0xffff, DX
	INCQ (DI)(DX*8)
	LEAL -1(BX), R11
	ANDL R11, BX
	JNZ bucket_bits
bucket_next:
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ bucket_loop
	MOVQ R10, ret+32(FP)
	VZEROUPPER
	RET

// func electTask(mixed, div *float64, x, base *float32, sum *float64, w float64, n int)
TEXT ·electTask(SB), NOSPLIT, $0-56
	MOVQ mixed+0(FP), DI
	MOVQ div+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ base+24(FP), DX
	MOVQ sum+32(FP), R9
	VBROADCASTSD w+40(FP), Y15
	MOVQ n+48(FP), CX
	VXORPD Y14, Y14, Y14
electtask_loop:
	VMOVUPS (SI), X0
	VMOVUPS (DX), X1
	VSUBPS X1, X0, X0
	VCVTPS2PD X0, Y0
	VMOVUPD (R9), Y1
	VCMPPD $0x1d, Y14, Y1, Y2
	VCMPPD $0x1e, Y14, Y0, Y3
	VCMPPD $0x11, Y14, Y0, Y4
	VANDPD Y2, Y3, Y3
	VANDNPD Y4, Y2, Y4
	VORPD Y4, Y3, Y3
	VMULPD Y15, Y0, Y5
	VANDPD Y3, Y5, Y5
	VMOVUPD (DI), Y6
	VADDPD Y5, Y6, Y6
	VMOVUPD Y6, (DI)
	VANDPD Y15, Y3, Y3
	VMOVUPD (R8), Y7
	VADDPD Y3, Y7, Y7
	VMOVUPD Y7, (R8)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $32, R9
	ADDQ $32, DI
	ADDQ $32, R8
	SUBQ $4, CX
	JNZ electtask_loop
	VZEROUPPER
	RET

DATA vmicro<>+0(SB)/8, $1e-06
GLOBL vmicro<>(SB), RODATA|NOPTR, $8

// func sceFinish(out, base *float32, mixed, div *float64, kept *uint32, n int)
TEXT ·sceFinish(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ base+8(FP), DX
	MOVQ mixed+16(FP), SI
	MOVQ div+24(FP), R8
	MOVQ kept+32(FP), R9
	MOVQ n+40(FP), CX
	VBROADCASTSD vmicro<>(SB), Y13
scefinish_loop:
	VMOVUPD (R8), Y1
	VMAXPD Y1, Y13, Y2
	VMOVUPD (SI), Y0
	VDIVPD Y2, Y0, Y3
	VMOVUPS (DX), X4
	VCVTPS2PD X4, Y5
	VADDPD Y3, Y5, Y5
	VCVTPD2PSY Y5, X5
	VMOVUPS (R9), X6
	VANDPS X6, X5, X5
	VANDNPS X4, X6, X4
	VORPS X4, X5, X5
	VMOVUPS X5, (DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $16, DX
	ADDQ $16, R9
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ scefinish_loop
	VZEROUPPER
	RET

// func l1Sums(sums *[2]float64, x, base *float32, u *uint32, thr uint32, all bool, n int)
TEXT ·l1Sums(SB), NOSPLIT, $0-48
	MOVQ sums+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	MOVQ u+24(FP), R8
	MOVL thr+32(FP), AX
	XORL $0x80000000, AX
	MOVL AX, X12
	VPBROADCASTD X12, X12
	MOVL $0x80000000, AX
	MOVL AX, X13
	VPBROADCASTD X13, X13
	MOVBLZX all+36(FP), AX
	NEGL AX
	MOVL AX, X11
	VPBROADCASTD X11, X11
	MOVQ $0x7fffffffffffffff, AX
	MOVQ AX, X10
	VPBROADCASTQ X10, Y10
	MOVQ n+40(FP), CX
	VMOVSD (DI), X8
	VMOVSD 8(DI), X9
l1sums_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VCVTPS2PD X0, Y0
	VANDPD Y10, Y0, Y0
	VMOVDQU (R8), X1
	VPXOR X13, X1, X1
	VPCMPGTD X1, X12, X2
	VPOR X11, X2, X2
	VPMOVSXDQ X2, Y2
	VANDPD Y2, Y0, Y3
	VEXTRACTF128 $1, Y0, X4
	VEXTRACTF128 $1, Y3, X5
	VADDSD X0, X8, X8
	VADDSD X3, X9, X9
	VUNPCKHPD X0, X0, X6
	VUNPCKHPD X3, X3, X7
	VADDSD X6, X8, X8
	VADDSD X7, X9, X9
	VADDSD X4, X8, X8
	VADDSD X5, X9, X9
	VUNPCKHPD X4, X4, X6
	VUNPCKHPD X5, X5, X7
	VADDSD X6, X8, X8
	VADDSD X7, X9, X9
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, R8
	SUBQ $4, CX
	JNZ l1sums_loop
	VMOVSD X8, (DI)
	VMOVSD X9, 8(DI)
	VZEROUPPER
	RET

// func pruneRandom(d, x, base *float32, u *uint32, thr uint32, n int)
TEXT ·pruneRandom(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	MOVQ u+24(FP), R8
	MOVL thr+32(FP), AX
	XORL $0x80000000, AX
	MOVL AX, X12
	VPBROADCASTD X12, X12
	MOVL $0x80000000, AX
	MOVL AX, X13
	VPBROADCASTD X13, X13
	MOVQ n+40(FP), CX
prunerandom_loop:
	VMOVDQU (R8), X1
	VPXOR X13, X1, X1
	VPCMPGTD X1, X12, X2
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VPAND X2, X0, X0
	VMOVUPS X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, R8
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ prunerandom_loop
	VZEROUPPER
	RET

// func maskDelta(d, x, base *float32, keep *uint32, n int)
TEXT ·maskDelta(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	MOVQ keep+24(FP), R8
	MOVQ n+32(FP), CX
maskdelta_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VMOVDQU (R8), X1
	VPAND X1, X0, X0
	VMOVUPS X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, R8
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ maskdelta_loop
	VZEROUPPER
	RET

// func mixFill(dst *uint32, c uint64, n int): n words (a multiple of 4), word k =
// SplitMix64's output function of c + (k+1)*golden, high half first. The 64-bit multiplies
// are built from 32-bit ones: lo*lo + ((hi*lo + lo*hi) << 32).
TEXT ·mixFill(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ c+8(FP), AX
	MOVQ n+16(FP), CX
	MOVQ $0x9e3779b97f4a7c15, BX
	ADDQ BX, AX
	MOVQ AX, X0
	ADDQ BX, AX
	MOVQ AX, X1
	ADDQ BX, AX
	MOVQ AX, X2
	ADDQ BX, AX
	MOVQ AX, X3
	VPUNPCKLQDQ X1, X0, X0
	VPUNPCKLQDQ X3, X2, X2
	VINSERTI128 $1, X2, Y0, Y0
	SHLQ $2, BX
	MOVQ BX, X15
	VPBROADCASTQ X15, Y15
	MOVQ $0xbf58476d1ce4e5b9, AX
	MOVQ AX, X13
	VPBROADCASTQ X13, Y13
	SHRQ $32, AX
	MOVQ AX, X12
	VPBROADCASTQ X12, Y12
	MOVQ $0x94d049bb133111eb, AX
	MOVQ AX, X11
	VPBROADCASTQ X11, Y11
	SHRQ $32, AX
	MOVQ AX, X10
	VPBROADCASTQ X10, Y10
mixfill_loop:
	VPSRLQ $30, Y0, Y2
	VPXOR Y2, Y0, Y1
	VPMULUDQ Y13, Y1, Y3
	VPSRLQ $32, Y1, Y4
	VPMULUDQ Y13, Y4, Y4
	VPMULUDQ Y12, Y1, Y5
	VPADDQ Y5, Y4, Y4
	VPSLLQ $32, Y4, Y4
	VPADDQ Y4, Y3, Y1
	VPSRLQ $27, Y1, Y2
	VPXOR Y2, Y1, Y1
	VPMULUDQ Y11, Y1, Y3
	VPSRLQ $32, Y1, Y4
	VPMULUDQ Y11, Y4, Y4
	VPMULUDQ Y10, Y1, Y5
	VPADDQ Y5, Y4, Y4
	VPSLLQ $32, Y4, Y4
	VPADDQ Y4, Y3, Y1
	VPSRLQ $31, Y1, Y2
	VPXOR Y2, Y1, Y1
	VPSHUFD $0xb1, Y1, Y1
	VMOVDQU Y1, (DI)
	VPADDQ Y15, Y0, Y0
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ mixfill_loop
	VZEROUPPER
	RET

// func sumSqKept(s *float64, x, base *float32, keep *uint32, n int)
TEXT ·sumSqKept(SB), NOSPLIT, $0-40
	MOVQ s+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ base+16(FP), DX
	MOVQ keep+24(FP), R8
	MOVQ n+32(FP), CX
	VMOVSD (DI), X8
sumsqkept_loop:
	VMOVUPS (SI), X0
	VSUBPS (DX), X0, X0
	VMOVDQU (R8), X1
	VPAND X1, X0, X0
	VCVTPS2PD X0, Y0
	VMULPD Y0, Y0, Y0
	VEXTRACTF128 $1, Y0, X4
	VADDSD X0, X8, X8
	VUNPCKHPD X0, X0, X6
	VADDSD X6, X8, X8
	VADDSD X4, X8, X8
	VUNPCKHPD X4, X4, X6
	VADDSD X6, X8, X8
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $16, R8
	SUBQ $4, CX
	JNZ sumsqkept_loop
	VMOVSD X8, (DI)
	VZEROUPPER
	RET
