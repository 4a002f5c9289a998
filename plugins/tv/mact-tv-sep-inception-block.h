/* mact-tv-sep-inception-block.h: S3D's SepInceptionBlock3D. */
#pragma once

#include "mact-tv-layers.h"

G_BEGIN_DECLS

#define MACT_TV_TYPE_SEP_INCEPTION_BLOCK (mact_tv_sep_inception_block_get_type ())
G_DECLARE_FINAL_TYPE (MactTvSepInceptionBlock, mact_tv_sep_inception_block, MACT_TV,
                      SEP_INCEPTION_BLOCK, MactModule)

MactModule *mact_tv_sep_inception_block_new (gint                   in_planes,
                                             gint                   b0_out,
                                             gint                   b1_mid,
                                             gint                   b1_out,
                                             gint                   b2_mid,
                                             gint                   b2_out,
                                             gint                   b3_out,
                                             const MactTvBatchNorm *bn,
                                             GError               **error);

G_END_DECLS
