//go:build amd64 && !purego

#include "textflag.h"

// Constants, each replicated over a 256-bit vector.
DATA vconst<>+0(SB)/4, $0x42b00000
DATA vconst<>+4(SB)/4, $0x42b00000
DATA vconst<>+8(SB)/4, $0x42b00000
DATA vconst<>+12(SB)/4, $0x42b00000
DATA vconst<>+16(SB)/4, $0x42b00000
DATA vconst<>+20(SB)/4, $0x42b00000
DATA vconst<>+24(SB)/4, $0x42b00000
DATA vconst<>+28(SB)/4, $0x42b00000
DATA vconst<>+32(SB)/4, $0xc2ae999a
DATA vconst<>+36(SB)/4, $0xc2ae999a
DATA vconst<>+40(SB)/4, $0xc2ae999a
DATA vconst<>+44(SB)/4, $0xc2ae999a
DATA vconst<>+48(SB)/4, $0xc2ae999a
DATA vconst<>+52(SB)/4, $0xc2ae999a
DATA vconst<>+56(SB)/4, $0xc2ae999a
DATA vconst<>+60(SB)/4, $0xc2ae999a
DATA vconst<>+64(SB)/4, $0x3fb8aa3b
DATA vconst<>+68(SB)/4, $0x3fb8aa3b
DATA vconst<>+72(SB)/4, $0x3fb8aa3b
DATA vconst<>+76(SB)/4, $0x3fb8aa3b
DATA vconst<>+80(SB)/4, $0x3fb8aa3b
DATA vconst<>+84(SB)/4, $0x3fb8aa3b
DATA vconst<>+88(SB)/4, $0x3fb8aa3b
DATA vconst<>+92(SB)/4, $0x3fb8aa3b
DATA vconst<>+96(SB)/4, $0x3f317200
DATA vconst<>+100(SB)/4, $0x3f317200
DATA vconst<>+104(SB)/4, $0x3f317200
DATA vconst<>+108(SB)/4, $0x3f317200
DATA vconst<>+112(SB)/4, $0x3f317200
DATA vconst<>+116(SB)/4, $0x3f317200
DATA vconst<>+120(SB)/4, $0x3f317200
DATA vconst<>+124(SB)/4, $0x3f317200
DATA vconst<>+128(SB)/4, $0x35bfbe8e
DATA vconst<>+132(SB)/4, $0x35bfbe8e
DATA vconst<>+136(SB)/4, $0x35bfbe8e
DATA vconst<>+140(SB)/4, $0x35bfbe8e
DATA vconst<>+144(SB)/4, $0x35bfbe8e
DATA vconst<>+148(SB)/4, $0x35bfbe8e
DATA vconst<>+152(SB)/4, $0x35bfbe8e
DATA vconst<>+156(SB)/4, $0x35bfbe8e
DATA vconst<>+160(SB)/4, $0x3f800000
DATA vconst<>+164(SB)/4, $0x3f800000
DATA vconst<>+168(SB)/4, $0x3f800000
DATA vconst<>+172(SB)/4, $0x3f800000
DATA vconst<>+176(SB)/4, $0x3f800000
DATA vconst<>+180(SB)/4, $0x3f800000
DATA vconst<>+184(SB)/4, $0x3f800000
DATA vconst<>+188(SB)/4, $0x3f800000
DATA vconst<>+192(SB)/4, $0x39500d01
DATA vconst<>+196(SB)/4, $0x39500d01
DATA vconst<>+200(SB)/4, $0x39500d01
DATA vconst<>+204(SB)/4, $0x39500d01
DATA vconst<>+208(SB)/4, $0x39500d01
DATA vconst<>+212(SB)/4, $0x39500d01
DATA vconst<>+216(SB)/4, $0x39500d01
DATA vconst<>+220(SB)/4, $0x39500d01
DATA vconst<>+224(SB)/4, $0x3ab60b61
DATA vconst<>+228(SB)/4, $0x3ab60b61
DATA vconst<>+232(SB)/4, $0x3ab60b61
DATA vconst<>+236(SB)/4, $0x3ab60b61
DATA vconst<>+240(SB)/4, $0x3ab60b61
DATA vconst<>+244(SB)/4, $0x3ab60b61
DATA vconst<>+248(SB)/4, $0x3ab60b61
DATA vconst<>+252(SB)/4, $0x3ab60b61
DATA vconst<>+256(SB)/4, $0x3c088889
DATA vconst<>+260(SB)/4, $0x3c088889
DATA vconst<>+264(SB)/4, $0x3c088889
DATA vconst<>+268(SB)/4, $0x3c088889
DATA vconst<>+272(SB)/4, $0x3c088889
DATA vconst<>+276(SB)/4, $0x3c088889
DATA vconst<>+280(SB)/4, $0x3c088889
DATA vconst<>+284(SB)/4, $0x3c088889
DATA vconst<>+288(SB)/4, $0x3d2aaaab
DATA vconst<>+292(SB)/4, $0x3d2aaaab
DATA vconst<>+296(SB)/4, $0x3d2aaaab
DATA vconst<>+300(SB)/4, $0x3d2aaaab
DATA vconst<>+304(SB)/4, $0x3d2aaaab
DATA vconst<>+308(SB)/4, $0x3d2aaaab
DATA vconst<>+312(SB)/4, $0x3d2aaaab
DATA vconst<>+316(SB)/4, $0x3d2aaaab
DATA vconst<>+320(SB)/4, $0x3e2aaaab
DATA vconst<>+324(SB)/4, $0x3e2aaaab
DATA vconst<>+328(SB)/4, $0x3e2aaaab
DATA vconst<>+332(SB)/4, $0x3e2aaaab
DATA vconst<>+336(SB)/4, $0x3e2aaaab
DATA vconst<>+340(SB)/4, $0x3e2aaaab
DATA vconst<>+344(SB)/4, $0x3e2aaaab
DATA vconst<>+348(SB)/4, $0x3e2aaaab
DATA vconst<>+352(SB)/4, $0x3f000000
DATA vconst<>+356(SB)/4, $0x3f000000
DATA vconst<>+360(SB)/4, $0x3f000000
DATA vconst<>+364(SB)/4, $0x3f000000
DATA vconst<>+368(SB)/4, $0x3f000000
DATA vconst<>+372(SB)/4, $0x3f000000
DATA vconst<>+376(SB)/4, $0x3f000000
DATA vconst<>+380(SB)/4, $0x3f000000
DATA vconst<>+384(SB)/4, $0x0000007f
DATA vconst<>+388(SB)/4, $0x0000007f
DATA vconst<>+392(SB)/4, $0x0000007f
DATA vconst<>+396(SB)/4, $0x0000007f
DATA vconst<>+400(SB)/4, $0x0000007f
DATA vconst<>+404(SB)/4, $0x0000007f
DATA vconst<>+408(SB)/4, $0x0000007f
DATA vconst<>+412(SB)/4, $0x0000007f
GLOBL vconst<>(SB), RODATA|NOPTR, $416

// func expShift(dst, src *float32, n int, shift float32) float32
// dst[i] = exp(src[i] - shift) for n (a positive multiple of 8) values; returns their sum.
TEXT ·expShift(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y14
	VXORPS Y15, Y15, Y15
	VMOVUPS vconst<>+0(SB), Y8
	VMOVUPS vconst<>+32(SB), Y9
	VMOVUPS vconst<>+64(SB), Y10
	VMOVUPS vconst<>+96(SB), Y11
	VMOVUPS vconst<>+128(SB), Y12
	VMOVUPS vconst<>+160(SB), Y13
expshift_loop:
	VMOVUPS (SI), Y0
	VSUBPS Y14, Y0, Y0
	VMINPS Y0, Y8, Y0
	VMAXPS Y0, Y9, Y0
	VMULPS Y10, Y0, Y1
	VROUNDPS $0, Y1, Y1
	VFNMADD231PS Y11, Y1, Y0
	VFNMADD231PS Y12, Y1, Y0
	VMOVUPS vconst<>+192(SB), Y2
	VFMADD213PS vconst<>+224(SB), Y0, Y2
	VFMADD213PS vconst<>+256(SB), Y0, Y2
	VFMADD213PS vconst<>+288(SB), Y0, Y2
	VFMADD213PS vconst<>+320(SB), Y0, Y2
	VFMADD213PS vconst<>+352(SB), Y0, Y2
	VFMADD213PS Y13, Y0, Y2
	VFMADD213PS Y13, Y0, Y2
	VCVTPS2DQ Y1, Y1
	VPADDD vconst<>+384(SB), Y1, Y1
	VPSLLD $23, Y1, Y1
	VMULPS Y1, Y2, Y0
	VMOVUPS Y0, (DI)
	VADDPS Y0, Y15, Y15
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ expshift_loop
	VEXTRACTF128 $1, Y15, X1
	VADDPS X1, X15, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VPSHUFD $1, X0, X1
	VADDSS X1, X0, X0
	VMOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// func swigluFwd(h, gate, u *float32, n int)
// h[i] = g[i] * sigmoid(g[i]) * u[i] for n (a positive multiple of 8) values.
TEXT ·swigluFwd(SB), NOSPLIT, $0-32
	MOVQ h+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ n+24(FP), CX
	VMOVUPS vconst<>+0(SB), Y8
	VMOVUPS vconst<>+32(SB), Y9
	VMOVUPS vconst<>+64(SB), Y10
	VMOVUPS vconst<>+96(SB), Y11
	VMOVUPS vconst<>+128(SB), Y12
	VMOVUPS vconst<>+160(SB), Y13
swiglufwd_loop:
	VMOVUPS (SI), Y4
	VXORPS Y0, Y0, Y0
	VSUBPS Y4, Y0, Y0
	VMINPS Y0, Y8, Y0
	VMAXPS Y0, Y9, Y0
	VMULPS Y10, Y0, Y1
	VROUNDPS $0, Y1, Y1
	VFNMADD231PS Y11, Y1, Y0
	VFNMADD231PS Y12, Y1, Y0
	VMOVUPS vconst<>+192(SB), Y2
	VFMADD213PS vconst<>+224(SB), Y0, Y2
	VFMADD213PS vconst<>+256(SB), Y0, Y2
	VFMADD213PS vconst<>+288(SB), Y0, Y2
	VFMADD213PS vconst<>+320(SB), Y0, Y2
	VFMADD213PS vconst<>+352(SB), Y0, Y2
	VFMADD213PS Y13, Y0, Y2
	VFMADD213PS Y13, Y0, Y2
	VCVTPS2DQ Y1, Y1
	VPADDD vconst<>+384(SB), Y1, Y1
	VPSLLD $23, Y1, Y1
	VMULPS Y1, Y2, Y0
	VADDPS Y13, Y0, Y0
	VDIVPS Y0, Y13, Y0
	VMULPS Y4, Y0, Y0
	VMULPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ swiglufwd_loop
	VZEROUPPER
	RET

// func swigluBwd(dg, du, h, gate, u, dh *float32, n int)
// With s = sigmoid(g): h = g*s*u, du = dh*g*s, dg = dh*u*s*(1 + g*(1-s)), for n (a positive
// multiple of 8) values.
TEXT ·swigluBwd(SB), NOSPLIT, $0-56
	MOVQ dg+0(FP), R8
	MOVQ du+8(FP), R9
	MOVQ h+16(FP), R10
	MOVQ gate+24(FP), R11
	MOVQ u+32(FP), R12
	MOVQ dh+40(FP), R13
	MOVQ n+48(FP), CX
	VMOVUPS vconst<>+0(SB), Y8
	VMOVUPS vconst<>+32(SB), Y9
	VMOVUPS vconst<>+64(SB), Y10
	VMOVUPS vconst<>+96(SB), Y11
	VMOVUPS vconst<>+128(SB), Y12
	VMOVUPS vconst<>+160(SB), Y13
swiglubwd_loop:
	VMOVUPS (R11), Y4
	VXORPS Y0, Y0, Y0
	VSUBPS Y4, Y0, Y0
	VMINPS Y0, Y8, Y0
	VMAXPS Y0, Y9, Y0
	VMULPS Y10, Y0, Y1
	VROUNDPS $0, Y1, Y1
	VFNMADD231PS Y11, Y1, Y0
	VFNMADD231PS Y12, Y1, Y0
	VMOVUPS vconst<>+192(SB), Y2
	VFMADD213PS vconst<>+224(SB), Y0, Y2
	VFMADD213PS vconst<>+256(SB), Y0, Y2
	VFMADD213PS vconst<>+288(SB), Y0, Y2
	VFMADD213PS vconst<>+320(SB), Y0, Y2
	VFMADD213PS vconst<>+352(SB), Y0, Y2
	VFMADD213PS Y13, Y0, Y2
	VFMADD213PS Y13, Y0, Y2
	VCVTPS2DQ Y1, Y1
	VPADDD vconst<>+384(SB), Y1, Y1
	VPSLLD $23, Y1, Y1
	VMULPS Y1, Y2, Y0
	VADDPS Y13, Y0, Y0
	VDIVPS Y0, Y13, Y0
	VMULPS Y4, Y0, Y5
	VMOVUPS (R12), Y6
	VMOVUPS (R13), Y7
	VMULPS Y6, Y5, Y1
	VMOVUPS Y1, (R10)
	VMULPS Y7, Y5, Y1
	VMOVUPS Y1, (R9)
	VSUBPS Y0, Y13, Y1
	VMULPS Y4, Y1, Y1
	VADDPS Y13, Y1, Y1
	VMULPS Y0, Y1, Y1
	VMULPS Y6, Y1, Y1
	VMULPS Y7, Y1, Y1
	VMOVUPS Y1, (R8)
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	SUBQ $8, CX
	JNZ swiglubwd_loop
	VZEROUPPER
	RET
