#include "mact-tensor-private.h"
