//go:build !openblas

#include "textflag.h"

// func adamSSE(w, gr, mo, ve, mw *float32, n int, c *adamConsts)
//
// fusedRange on n (a multiple of 4) float32 elements, 4 per SSE
// instruction. Every lane does the operations of the scalar Go loop in the
// same order (products and sums are commutative in IEEE arithmetic, so the
// operand order of MULPS/ADDPS does not matter), hence the same bits.
TEXT ·adamSSE(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ mo+16(FP), R8
	MOVQ ve+24(FP), R9
	MOVQ mw+32(FP), R10
	MOVQ n+40(FP), CX
	MOVQ c+48(FP), DX
	SHLQ $2, CX
	MOVUPS 0(DX), X6    // b1
	MOVUPS 16(DX), X7   // 1-b1
	MOVUPS 32(DX), X8   // b2
	MOVUPS 48(DX), X9   // 1-b2
	MOVUPS 64(DX), X10  // step
	MOVUPS 80(DX), X11  // sc2
	MOVUPS 96(DX), X12  // eps
	MOVUPS 112(DX), X13 // a (EMA)
	MOVUPS 128(DX), X14 // b (EMA)
	MOVSD 144(DX), X15  // clip (float64)
	UNPCKLPD X15, X15
	MOVQ 152(DX), R11   // scaled
	MOVQ 160(DX), R12   // ema
	XORQ BX, BX

loop:
	CMPQ BX, CX
	JGE  done
	MOVUPS (SI)(BX*1), X0 // g
	CMPQ R11, $0
	JEQ  noscale
	CVTPS2PD X0, X1       // lanes 0, 1 as float64
	MOVHLPS X0, X2
	CVTPS2PD X2, X2       // lanes 2, 3
	MULPD X15, X1
	MULPD X15, X2
	CVTPD2PS X1, X1
	CVTPD2PS X2, X2
	MOVLHPS X2, X1
	MOVAPS X1, X0

noscale:
	// m = b1*m + (1-b1)*g
	MOVUPS (R8)(BX*1), X1
	MULPS X6, X1
	MOVAPS X7, X2
	MULPS X0, X2
	ADDPS X2, X1
	MOVUPS X1, (R8)(BX*1)

	// v = b2*v + ((1-b2)*g)*g
	MOVUPS (R9)(BX*1), X2
	MULPS X8, X2
	MOVAPS X9, X3
	MULPS X0, X3
	MULPS X0, X3
	ADDPS X3, X2
	MOVUPS X2, (R9)(BX*1)

	// w = w - (step*m) / (sqrt(v)*sc2 + eps)
	SQRTPS X2, X3
	MULPS X11, X3
	ADDPS X12, X3
	MOVAPS X10, X4
	MULPS X1, X4
	DIVPS X3, X4
	MOVUPS (DI)(BX*1), X5
	SUBPS X4, X5
	MOVUPS X5, (DI)(BX*1)

	// mw = a*mw + b*w
	CMPQ R12, $0
	JEQ  next
	MOVUPS (R10)(BX*1), X1
	MULPS X13, X1
	MULPS X14, X5
	ADDPS X5, X1
	MOVUPS X1, (R10)(BX*1)

next:
	ADDQ $16, BX
	JMP  loop

done:
	RET
