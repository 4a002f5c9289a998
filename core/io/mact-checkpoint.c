/* mact-checkpoint.c: training checkpoints as three files (weights, optimizer state, meta).
 *
 * Weights stay a plain safetensors state dict with PyTorch's key names, so the file is as
 * useful to a PyTorch user as to mact; everything else lives beside it.  The meta JSON is
 * written last and names the other two, so its presence marks a complete checkpoint: a
 * crash mid-save leaves at worst orphaned tensor files and never a half-written JSON
 * (every file goes through a temporary file, fsync and rename).
 *
 * Three files cannot be renamed at once, though.  Saving over an existing NAME renames
 * the new tensor files over the old ones before the new JSON replaces the old, so a crash
 * in between would leave the old JSON (and any `latest` copy of it) naming tensors of
 * another save, which would load without complaint.  Each save therefore gets a random
 * id, stored in the JSON and in both tensor files' safetensors metadata, and loading
 * refuses files whose ids differ.  The directory is synced after the tensor files' renames
 * and after the JSON's, so that after a power cut the JSON cannot be on disk without
 * the files it names. */
#include <mact/mact.h>

#include "mact-config-private.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#ifdef G_OS_UNIX
#include <fcntl.h>
#include <unistd.h>
#endif

/* The member of the meta JSON, and the key of the safetensors metadata, holding the id of
 * the save that wrote the files. */
#define ID_MEMBER "checkpoint_id"
#define ID_METADATA_KEY "mact_checkpoint_id"

/* Makes the renames done in @dir durable.  Best effort: the files are already complete
 * and in place, only their surviving a power cut is at stake, and some file systems do
 * not sync directories at all. */
static void
sync_dir (const char *dir)
{
#ifdef G_OS_UNIX
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      g_debug ("cannot open checkpoint directory '%s' to sync it: %s", dir,
               g_strerror (errno));
      return;
    }
  if (fsync (fd) != 0 && errno != EINVAL)
    g_debug ("cannot sync checkpoint directory '%s': %s", dir, g_strerror (errno));
  close (fd);
#endif
}

/* A new save's id.  g_uuid_string_random() alone is not enough: it draws from GLib's
 * global generator, whose state a forked child inherits, so a parent and its children (or
 * two children) would produce the same ids in the same order.  The process id and the
 * time in microseconds tell them apart. */
static char *
new_save_id (void)
{
  g_autofree char *uuid = g_uuid_string_random ();
#ifdef G_OS_UNIX
  return g_strdup_printf ("%s-%lx-%" G_GINT64_MODIFIER "x", uuid, (unsigned long) getpid (),
                          g_get_real_time ());
#else
  return g_strdup_printf ("%s-%" G_GINT64_MODIFIER "x", uuid, g_get_real_time ());
#endif
}

/* Whether @suffix (6 characters) looks like the random part of a GLib temporary file:
 * letters and digits, and not a lowercase word such as "backup" that a person might have
 * given a copy. */
static gboolean
is_temporary_suffix (const char *suffix)
{
  gboolean word = TRUE;
  for (guint i = 0; i < 6; i++)
    {
      if (!g_ascii_isalnum (suffix[i]))
        return FALSE;
      word = word && g_ascii_islower (suffix[i]);
    }
  return !word;
}

/* Removes what interrupted writes of @files (names in @dir) left behind.  Atomic writes go
 * through a temporary "FILE.XXXXXX" beside FILE (GLib's g_file_set_contents_full()), and a
 * process killed while writing leaves it there, as large as the file; a job that is killed
 * and resumed again and again would pile them up.  Only names of that pattern are
 * removed, and only for the files about to be written: a temporary of FILE belongs to
 * whoever writes FILE, which is now this save.  Best effort: what is not removed only
 * takes space. */
static void
remove_stale_temporaries (const char        *dir,
                          const char *const *files)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    for (guint f = 0; files[f] != NULL; f++)
      {
        const gsize n = strlen (files[f]);
        if (strlen (entry) == n + 7 && strncmp (entry, files[f], n) == 0 &&
            entry[n] == '.' && is_temporary_suffix (entry + n + 1))
          {
            g_autofree char *path = g_build_filename (dir, entry, NULL);
            g_unlink (path);
            break;
          }
      }
}

/**
 * mact_checkpoint_save:
 * @dir: the directory (created if missing)
 * @name: the checkpoint's base name, e.g. "epoch_3"
 * @model: the model whose state dict is saved
 * @optimizer: (nullable): the optimizer whose state is saved
 * @meta: (nullable): extra meta members (epoch, iter, seed, config, ...); copied
 * @error: return location for a #GError
 *
 * Writes `NAME.safetensors`, `NAME.optim.safetensors` (when @optimizer is given) and
 * `NAME.json` into @dir, each atomically, the JSON last.  The JSON gets `mact_version`,
 * `weights`, `optimizer`, `optimizer_type` and `checkpoint_id` members in addition to
 * @meta's; the id, random for each save, is also in the tensor files' safetensors
 * metadata (`mact_checkpoint_id`), so that mact_checkpoint_load() can tell files of one
 * save from those of another.
 *
 * A process killed at any point leaves the previous checkpoints of other names intact.
 * Saving over an existing @name replaces it: killed midway, that checkpoint is either
 * still the old one or refused when loaded, never a mix.  Temporary files that an
 * earlier, interrupted save of @name left in @dir (`NAME.json.XXXXXX` and the like, see
 * g_file_set_contents_full()) are removed.  Two processes must not save the same @name
 * in one directory at once.
 *
 * Returns: %TRUE on success; file errors are %MACT_TRAIN_ERROR_IO or the safetensors
 *   writer's %MACT_IO_ERROR.
 *
 * Since: 0.1
 */
gboolean
mact_checkpoint_save (const char     *dir,
                      const char     *name,
                      MactModule     *model,
                      MactOptimizer  *optimizer,
                      JsonObject     *meta,
                      GError        **error)
{
  g_return_val_if_fail (dir != NULL, FALSE);
  g_return_val_if_fail (name != NULL && *name != '\0', FALSE);
  g_return_val_if_fail (MACT_IS_MODULE (model), FALSE);
  g_return_val_if_fail (optimizer == NULL || MACT_IS_OPTIMIZER (optimizer), FALSE);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO,
                   "cannot create checkpoint directory '%s': %s", dir, g_strerror (saved));
      return FALSE;
    }

  g_autofree char *weights_name = g_strconcat (name, ".safetensors", NULL);
  g_autofree char *optim_name = g_strconcat (name, ".optim.safetensors", NULL);
  g_autofree char *meta_name = g_strconcat (name, ".json", NULL);
  g_autofree char *weights_path = g_build_filename (dir, weights_name, NULL);
  g_autofree char *optim_path = g_build_filename (dir, optim_name, NULL);
  g_autofree char *meta_path = g_build_filename (dir, meta_name, NULL);

  const char *const own_files[] = { weights_name, optim_name, meta_name, NULL };
  remove_stale_temporaries (dir, own_files);

  g_autofree char *id = new_save_id ();

  /* "format": safetensors' own convention for PyTorch state dicts. */
  g_autoptr(GHashTable) st_meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (st_meta, (gpointer) "format", (gpointer) "pt");
  g_hash_table_insert (st_meta, (gpointer) ID_METADATA_KEY, id);

  g_autoptr(MactTensorDict) state = mact_module_state_dict (model);
  if (!mact_safetensors_save (weights_path, state, st_meta, error))
    return FALSE;

  if (optimizer != NULL)
    {
      g_autoptr(GHashTable) optim_meta = g_hash_table_new (g_str_hash, g_str_equal);
      g_hash_table_insert (optim_meta, (gpointer) ID_METADATA_KEY, id);
      g_autoptr(MactTensorDict) optim_state = mact_optimizer_state_dict (optimizer);
      if (!mact_safetensors_save (optim_path, optim_state, optim_meta, error))
        return FALSE;
    }
  /* The tensor files' renames reach the disk before the JSON that names them. */
  sync_dir (dir);

  g_autoptr(JsonObject) obj = json_object_new ();
  if (meta != NULL)
    {
      g_autoptr(GList) members = json_object_get_members (meta);
      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (obj, l->data,
                                json_node_copy (json_object_get_member (meta, l->data)));
    }
  json_object_set_string_member (obj, "mact_version", MACT_VERSION_S);
  json_object_set_string_member (obj, ID_MEMBER, id);
  json_object_set_string_member (obj, "weights", weights_name);
  if (optimizer != NULL)
    {
      json_object_set_string_member (obj, "optimizer", optim_name);
      json_object_set_string_member (obj, "optimizer_type", G_OBJECT_TYPE_NAME (optimizer));
    }
  else
    {
      json_object_set_null_member (obj, "optimizer");
    }

  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (root, obj);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  gsize length = 0;
  g_autofree char *text = json_generator_to_data (gen, &length);

  g_autoptr(GError) local = NULL;
  if (!g_file_set_contents_full (meta_path, text, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local))
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO,
                   "cannot write checkpoint meta '%s': %s", meta_path, local->message);
      return FALSE;
    }
  sync_dir (dir);
  return TRUE;
}

/* The member @key of @meta as a file name next to @meta_path, refusing anything that
 * is not a plain file name: a checkpoint never points outside its own directory. */
static char *
sibling_path (const char  *meta_path,
              JsonObject  *meta,
              const char  *key,
              GError     **error)
{
  JsonNode *node = json_object_get_member (meta, key);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                   "checkpoint '%s': member '%s' must be a file name", meta_path, key);
      return NULL;
    }
  const char *file = json_node_get_string (node);
  if (*file == '\0' || strchr (file, '/') != NULL || g_str_equal (file, "..") ||
      g_str_equal (file, "."))
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                   "checkpoint '%s': member '%s' ('%s') must be a file name in the same "
                   "directory", meta_path, key, file);
      return NULL;
    }
  g_autofree char *dir = g_path_get_dirname (meta_path);
  return g_build_filename (dir, file, NULL);
}

/* The tensors of @path.  With @id (the meta's checkpoint id), the file must carry the same
 * id: otherwise it was written by another save than the JSON @meta_path. */
static MactTensorDict *
read_tensors (const char  *meta_path,
              const char  *path,
              const char  *id,
              GError     **error)
{
  g_autoptr(GHashTable) metadata = NULL;
  g_autoptr(MactTensorDict) state = mact_safetensors_load (path, &metadata, error);
  if (state == NULL)
    return NULL;
  if (id != NULL)
    {
      const char *file_id = g_hash_table_lookup (metadata, ID_METADATA_KEY);
      if (file_id == NULL || !g_str_equal (file_id, id))
        {
          g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                       "checkpoint '%s': '%s' belongs to another save (checkpoint id %s, "
                       "expected %s); a save of this checkpoint was interrupted, or its "
                       "files were replaced", meta_path, path,
                       file_id != NULL ? file_id : "missing", id);
          return NULL;
        }
    }
  return g_steal_pointer (&state);
}

static gboolean
apply_weights (const char      *path,
               MactTensorDict  *state,
               MactModule      *model,
               gboolean         strict,
               GError         **error)
{
  g_auto(GStrv) missing = NULL;
  g_auto(GStrv) unexpected = NULL;
  if (!mact_module_load_state_dict (model, state, strict, &missing, &unexpected, error))
    {
      g_prefix_error (error, "checkpoint '%s': ", path);
      return FALSE;
    }
  if (missing != NULL && missing[0] != NULL)
    g_debug ("checkpoint '%s': %u missing keys (first: %s)", path,
             g_strv_length (missing), missing[0]);
  if (unexpected != NULL && unexpected[0] != NULL)
    g_debug ("checkpoint '%s': %u unexpected keys (first: %s)", path,
             g_strv_length (unexpected), unexpected[0]);
  return TRUE;
}

/**
 * mact_checkpoint_load:
 * @path: a checkpoint's `NAME.json`, or a bare `.safetensors` state dict
 * @model: the model to load the weights into
 * @strict: whether missing or unexpected keys are an error
 * @optimizer: (nullable): the optimizer to restore, when the checkpoint has its state
 * @error: return location for a #GError
 *
 * Loads weights, and optimizer state when asked and present.  mmcv's `load_from` is
 * @optimizer %NULL (weights only); `resume_from` passes the optimizer.
 *
 * When the meta has a `checkpoint_id` (mact_checkpoint_save() writes one), every file read
 * must carry the same id, else the checkpoint is refused with %MACT_TRAIN_ERROR_STATE
 * naming the file: its files come from different saves, as after a save over the same
 * name that was killed midway.  All files are read and checked before @model or
 * @optimizer is touched.
 *
 * Returns: (transfer full) (nullable): the checkpoint's meta (empty for a bare state
 *   dict), or %NULL with @error set.
 *
 * Since: 0.1
 */
JsonObject *
mact_checkpoint_load (const char     *path,
                      MactModule     *model,
                      gboolean        strict,
                      MactOptimizer  *optimizer,
                      GError        **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (MACT_IS_MODULE (model), NULL);

  if (!g_str_has_suffix (path, ".json"))
    {
      g_autoptr(MactTensorDict) state = read_tensors (path, path, NULL, error);
      if (state == NULL || !apply_weights (path, state, model, strict, error))
        return NULL;
      return json_object_new ();
    }

  /* Parsed with the checks of a config (mact-config-private.h): json-glib alone would
   * overflow the stack on a hostile file nesting 100000 levels. */
  g_autoptr(GError) local = NULL;
  g_autofree char *text = NULL;
  gsize length = 0;
  g_autoptr(JsonNode) root = NULL;
  if (!g_file_get_contents (path, &text, &length, &local) ||
      !mact_json_parse_checked (text, length, path, 64, MACT_JSON_SINGLE_QUOTES, &root,
                                &local))
    {
      const gboolean io = local->domain == G_FILE_ERROR;
      g_set_error (error, MACT_TRAIN_ERROR,
                   io ? MACT_TRAIN_ERROR_IO : MACT_TRAIN_ERROR_STATE,
                   "cannot read checkpoint '%s': %s", path, local->message);
      return NULL;
    }
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                   "checkpoint '%s' is not a JSON object", path);
      return NULL;
    }
  JsonObject *meta = json_node_get_object (root);

  const char *id = NULL;
  JsonNode *id_node = json_object_get_member (meta, ID_MEMBER);
  if (id_node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (id_node) ||
          json_node_get_value_type (id_node) != G_TYPE_STRING)
        {
          g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                       "checkpoint '%s': member '" ID_MEMBER "' must be a string", path);
          return NULL;
        }
      id = json_node_get_string (id_node);
    }

  g_autofree char *weights_path = sibling_path (path, meta, "weights", &local);
  if (weights_path == NULL)
    {
      if (local == NULL)
        g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                     "checkpoint '%s' names no weights file", path);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  g_autofree char *optim_path = sibling_path (path, meta, "optimizer", &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }

  if (optimizer != NULL && optim_path != NULL)
    {
      const char *saved_type = json_object_get_string_member_with_default (meta,
                                                                           "optimizer_type",
                                                                           NULL);
      if (saved_type != NULL && !g_str_equal (saved_type, G_OBJECT_TYPE_NAME (optimizer)))
        {
          g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                       "checkpoint '%s' holds %s state, but the optimizer is %s", path,
                       saved_type, G_OBJECT_TYPE_NAME (optimizer));
          return NULL;
        }
    }

  g_autoptr(MactTensorDict) weights = read_tensors (path, weights_path, id, error);
  if (weights == NULL)
    return NULL;
  g_autoptr(MactTensorDict) optim_state = NULL;
  if (optimizer != NULL && optim_path != NULL)
    {
      optim_state = read_tensors (path, optim_path, id, error);
      if (optim_state == NULL)
        return NULL;
    }

  if (!apply_weights (weights_path, weights, model, strict, error))
    return NULL;
  if (optim_state != NULL && !mact_optimizer_load_state_dict (optimizer, optim_state, error))
    {
      g_prefix_error (error, "checkpoint '%s': ", optim_path);
      return NULL;
    }

  return json_object_ref (meta);
}

/**
 * mact_checkpoint_link:
 * @dir: the checkpoint directory
 * @link_name: the alias, e.g. "latest"
 * @target_name: the checkpoint it stands for, e.g. "epoch_3"
 * @error: return location for a #GError
 *
 * Writes `LINK.json` as a copy of `TARGET.json`, atomically.  Because the meta names its
 * tensor files, loading `LINK.json` loads the target checkpoint: mmcv's `latest.pth`
 * symbolic link, without depending on the file system supporting links.  The copy keeps
 * the target's `checkpoint_id`: if TARGET is later saved again, the link is refused
 * rather than loaded with the new tensors.
 *
 * Returns: %TRUE on success, else a %MACT_TRAIN_ERROR_IO error
 *
 * Since: 0.1
 */
gboolean
mact_checkpoint_link (const char  *dir,
                      const char  *link_name,
                      const char  *target_name,
                      GError     **error)
{
  g_return_val_if_fail (dir != NULL && link_name != NULL && target_name != NULL, FALSE);

  g_autofree char *target_file = g_strconcat (target_name, ".json", NULL);
  g_autofree char *link_file = g_strconcat (link_name, ".json", NULL);
  g_autofree char *target_path = g_build_filename (dir, target_file, NULL);
  g_autofree char *link_path = g_build_filename (dir, link_file, NULL);
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr(GError) local = NULL;

  const char *const own_files[] = { link_file, NULL };
  remove_stale_temporaries (dir, own_files);

  if (!g_file_get_contents (target_path, &contents, &length, &local) ||
      !g_file_set_contents_full (link_path, contents, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local))
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_IO,
                   "cannot point '%s' at checkpoint '%s': %s", link_path, target_name,
                   local->message);
      return FALSE;
    }
  sync_dir (dir);
  return TRUE;
}
