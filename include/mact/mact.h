/* mact.h: the umbrella header of libmact.  Applications and plugins include only this. */
#pragma once

#define __MACT_H_INSIDE__

#include <mact/mact-version.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-error.h>
#include <mact/mact-enum-types.h>
#include <mact/mact-runtime.h>
#include <mact/mact-generator.h>
#include <mact/mact-tensor.h>
#include <mact/mact-autograd.h>
#include <mact/mact-ops.h>

#undef __MACT_H_INSIDE__
