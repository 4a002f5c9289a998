/* mact-synthetic-dataset.h: a procedural action dataset that needs no files. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <mact/mact-dataset.h>

G_BEGIN_DECLS

/**
 * MactSyntheticAction:
 * The actions a shape performs in a synthetic clip, in class-index order.
 *
 * Since: 0.1
 */
typedef enum {
  MACT_SYNTHETIC_ACTION_MOVE_RIGHT,
  MACT_SYNTHETIC_ACTION_MOVE_LEFT,
  MACT_SYNTHETIC_ACTION_MOVE_DOWN,
  MACT_SYNTHETIC_ACTION_MOVE_UP,
  MACT_SYNTHETIC_ACTION_ROTATE_CLOCKWISE,
  MACT_SYNTHETIC_ACTION_ROTATE_COUNTERCLOCKWISE,
  MACT_SYNTHETIC_ACTION_GROW,
  MACT_SYNTHETIC_ACTION_SHRINK,
  MACT_SYNTHETIC_ACTION_BLINK,
  MACT_SYNTHETIC_ACTION_STAND_STILL,
  MACT_SYNTHETIC_ACTION_N_ACTIONS /*< skip >*/
} MactSyntheticAction;

/* Properties (config keys in snake_case): num_classes (2..10, the first N actions),
 * num_samples, split ("train" | "val": disjoint sample seeds), seed, clip_len (frames per
 * clip), num_clips (views per sample), frame_interval, height, width, noise (stddev of
 * per-pixel Gaussian noise on [0, 1] intensities), clutter (number of static and drifting
 * distractor shapes), input_format ("NCHW": imgs [num_clips * clip_len, 3, H, W] for 2D
 * recognizers; "NCTHW": [num_clips, 3, clip_len, H, W] for 3D), mean/std (Normalize on the
 * 0-255 scale, mmaction2's img_norm_cfg; default ImageNet's), test_mode (accepted, as
 * mmaction2's builders set it for val sets; no effect).  Shape kind, colour, size,
 * start position, speed and background vary per sample; the class is only in the motion.
 * Sample i has class i % num_classes; "label" is a [1] float tensor.  Every action spans
 * the sampled frames, so frame_interval (kept for SampleFrames parity) changes nothing. */
#define MACT_TYPE_SYNTHETIC_DATASET (mact_synthetic_dataset_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactSyntheticDataset, mact_synthetic_dataset, MACT, SYNTHETIC_DATASET,
                      MactDataset)

MACT_AVAILABLE_IN_0_1
MactDataset *mact_synthetic_dataset_new_from_config (JsonNode  *config,
                                                     GError   **error);
MACT_AVAILABLE_IN_0_1
const char  *mact_synthetic_action_get_name         (MactSyntheticAction action);

G_END_DECLS
