//go:build !openblas

#include "textflag.h"

// func expSSE(x *float32, n int, s float32, tab *[14][4]uint32)
TEXT ·expSSE(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	MOVSS s+16(FP), X15
	SHUFPS $0, X15, X15
	MOVQ tab+24(FP), DX
	SHLQ $2, CX
	MOVUPS 0(DX), X8    // -87
	MOVUPS 16(DX), X9   // 88
	MOVUPS 32(DX), X10  // log2e
	MOVUPS 48(DX), X11  // magic
	MOVUPS 64(DX), X12  // c1
	MOVUPS 80(DX), X13  // c2
	MOVUPS 96(DX), X14  // 1
	XORQ BX, BX

loop:
	CMPQ BX, CX
	JGE  done
	MOVUPS (DI)(BX*1), X0
	MULPS X15, X0         // v = s*x
	MOVAPS X0, X1
	CMPPS X8, X1, $1      // mask: v < -87
	MOVAPS X9, X2
	MINPS X0, X2          // v = 88 < v ? 88 : v (NaN stays)
	MOVAPS X2, X3
	MULPS X10, X3
	ADDPS X11, X3         // t = v*log2e + magic
	MOVAPS X3, X4
	SUBPS X11, X4         // k = t - magic
	MOVAPS X4, X5
	MULPS X12, X5
	MOVAPS X2, X6
	SUBPS X5, X6          // v - k*c1
	MOVAPS X4, X5
	MULPS X13, X5
	SUBPS X5, X6          // r = v - k*c1 - k*c2
	MOVAPS X6, X7
	MULPS X6, X7          // r2
	MOVAPS X14, X0
	ADDPS X6, X0          // 1 + r
	MOVUPS 128(DX), X2
	MULPS X6, X2
	MOVUPS 112(DX), X4
	ADDPS X2, X4          // p1 + r*p2
	MULPS X7, X4
	ADDPS X4, X0          // (1 + r) + r2*(p1 + r*p2)
	MOVUPS 160(DX), X2
	MULPS X6, X2
	MOVUPS 144(DX), X4
	ADDPS X2, X4          // p3 + r*p4
	MOVUPS 192(DX), X2
	MULPS X6, X2
	MOVUPS 176(DX), X5
	ADDPS X2, X5          // p5 + r*p6
	MULPS X7, X5
	ADDPS X5, X4          // (p3 + r*p4) + r2*(p5 + r*p6)
	MULPS X7, X7          // r2*r2
	MULPS X7, X4
	ADDPS X4, X0          // p
	MOVUPS 208(DX), X2
	PADDL X2, X3
	PSLLL $23, X3         // 2^k
	MULPS X3, X0
	ANDNPS X0, X1         // 0 where v < -87
	MOVUPS X1, (DI)(BX*1)
	ADDQ $16, BX
	JMP  loop

done:
	RET
