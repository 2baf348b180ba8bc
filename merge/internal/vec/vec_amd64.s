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
