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
#include <mact/mact-tensor-dict.h>
#include <mact/mact-safetensors.h>
#include <mact/mact-module.h>
#include <mact/mact-layers.h>
#include <mact/mact-backbone.h>
#include <mact/mact-neck.h>
#include <mact/mact-loss.h>
#include <mact/mact-head.h>
#include <mact/mact-blending.h>
#include <mact/mact-plugin.h>
#include <mact/mact-config.h>
#include <mact/mact-registry.h>
#include <mact/mact-recognizer.h>
#include <mact/mact-optimizer.h>
#include <mact/mact-lr-schedule.h>
#include <mact/mact-dataset.h>
#include <mact/mact-data-loader.h>
#include <mact/mact-synthetic-dataset.h>
#include <mact/mact-annotation.h>
#include <mact/mact-checkpoint.h>
#include <mact/mact-runner.h>
#include <mact/mact-distributed.h>
#include <mact/mact-video.h>
#include <mact/mact-pipeline.h>
#include <mact/mact-npy.h>
#include <mact/mact-video-dataset.h>
#include <mact/mact-inference.h>

#undef __MACT_H_INSIDE__
