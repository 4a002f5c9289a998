/* mact-tv-s3d.h: torchvision's S3D (tv.s3d). */
#pragma once

#include "mact-tv-model.h"

G_BEGIN_DECLS

#define MACT_TV_TYPE_S3D (mact_tv_s3d_get_type ())
G_DECLARE_FINAL_TYPE (MactTvS3D, mact_tv_s3d, MACT_TV, S3D, MactTvModel)

G_END_DECLS
