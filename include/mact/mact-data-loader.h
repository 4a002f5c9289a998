/* mact-data-loader.h: shuffling, sharding, batching and prefetching over a MactDataset. */
#pragma once

#if !defined(__MACT_H_INSIDE__) && !defined(MACT_COMPILATION)
#error "Only <mact/mact.h> can be included directly."
#endif

#include <glib-object.h>
#include <gio/gio.h>
#include <mact/mact-version-macros.h>
#include <mact/mact-dataset.h>

G_BEGIN_DECLS

/* Sampling follows torch's DistributedSampler (which is also the single-process case with
 * num_replicas 1, rank 0): each epoch, indices are shuffled by a generator seeded with
 * seed + epoch (identity order when shuffle is FALSE), padded by repeating from the start
 * to a multiple of num_replicas (or truncated when drop_last), and rank r takes
 * indices[r::num_replicas].  The shard is then cut into batches of batch_size (the last
 * short batch dropped when drop_last).  Samples are prepared by prefetch worker threads
 * (num_workers, default 1; 0 prepares in the caller's thread) ahead of the consumer, at
 * most prefetch batches ahead; each sample's rng is seeded from (seed, epoch, index), so
 * batches are identical whatever the worker count. */
#define MACT_TYPE_DATA_LOADER (mact_data_loader_get_type ())
MACT_AVAILABLE_IN_0_1
G_DECLARE_FINAL_TYPE (MactDataLoader, mact_data_loader, MACT, DATA_LOADER, GObject)

MACT_AVAILABLE_IN_0_1
MactDataLoader *mact_data_loader_new         (MactDataset    *dataset,
                                              guint           batch_size,
                                              gboolean        shuffle,
                                              guint64         seed);

/* Properties (also settable with g_object_set): "num-replicas", "rank", "drop-last",
 * "num-workers", "prefetch". */
MACT_AVAILABLE_IN_0_1
void            mact_data_loader_set_shard   (MactDataLoader *self,
                                              guint           num_replicas,
                                              guint           rank);

/* Starts epoch @epoch: computes the order and starts the workers.  Any batches still
 * pending from a previous epoch are discarded. */
MACT_AVAILABLE_IN_0_1
gboolean        mact_data_loader_start_epoch (MactDataLoader *self,
                                              guint           epoch,
                                              GError        **error);

/* The next batch of the current epoch (mact_dataset_collate() of its samples, plus an
 * "index" tensor [B] of dataset indices), or NULL with no error at the end of the epoch.
 * A failing sample stops the epoch with its error. */
MACT_AVAILABLE_IN_0_1
MactTensorDict *mact_data_loader_next        (MactDataLoader *self,
                                              GCancellable   *cancellable,
                                              GError        **error);

/* Batches per epoch for this rank. */
MACT_AVAILABLE_IN_0_1
guint           mact_data_loader_get_length  (MactDataLoader *self);
MACT_AVAILABLE_IN_0_1
MactDataset    *mact_data_loader_get_dataset (MactDataLoader *self);

G_END_DECLS
