/* mact-error.c: error quarks. */
#include "mact-tensor-private.h"

G_DEFINE_QUARK (mact-tensor-error-quark, mact_tensor_error)
