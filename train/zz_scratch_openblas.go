//go:build openblas

package train

/*
void openblas_set_num_threads(int);
*/
import "C"

func scratchSetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }
