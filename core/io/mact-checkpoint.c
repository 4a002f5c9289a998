/* mact-checkpoint.c: training checkpoints as three files (weights, optimizer state, meta).
 *
 * Weights stay a plain safetensors state dict with PyTorch's key names, so the file is as
 * useful to a PyTorch user as to mact; everything else lives beside it.  The meta JSON is
 * written last and names the other two, so its presence marks a complete checkpoint: a
 * crash mid-save leaves at worst orphaned tensor files and never a half-written JSON
 * (every file goes through a temporary file, fsync and rename). */
#include <mact/mact.h>

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

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
 * `NAME.json` into @dir, each atomically.  The JSON gets `mact_version`, `weights`,
 * `optimizer` and `optimizer_type` members in addition to @meta's.
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

  /* safetensors' own convention for PyTorch state dicts. */
  g_autoptr(GHashTable) st_meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (st_meta, (gpointer) "format", (gpointer) "pt");

  g_autoptr(MactTensorDict) state = mact_module_state_dict (model);
  if (!mact_safetensors_save (weights_path, state, st_meta, error))
    return FALSE;

  if (optimizer != NULL)
    {
      g_autoptr(MactTensorDict) optim_state = mact_optimizer_state_dict (optimizer);
      if (!mact_safetensors_save (optim_path, optim_state, NULL, error))
        return FALSE;
    }

  g_autoptr(JsonObject) obj = json_object_new ();
  if (meta != NULL)
    {
      g_autoptr(GList) members = json_object_get_members (meta);
      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (obj, l->data,
                                json_node_copy (json_object_get_member (meta, l->data)));
    }
  json_object_set_string_member (obj, "mact_version", MACT_VERSION_S);
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

static gboolean
load_weights (const char  *path,
              MactModule  *model,
              gboolean     strict,
              GError     **error)
{
  g_autoptr(MactTensorDict) state = mact_safetensors_load (path, NULL, error);
  if (state == NULL)
    return FALSE;
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
      if (!load_weights (path, model, strict, error))
        return NULL;
      return json_object_new ();
    }

  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local = NULL;
  if (!json_parser_load_from_mapped_file (parser, path, &local))
    {
      const gboolean io = local->domain == G_FILE_ERROR;
      g_set_error (error, MACT_TRAIN_ERROR,
                   io ? MACT_TRAIN_ERROR_IO : MACT_TRAIN_ERROR_STATE,
                   "cannot read checkpoint '%s': %s", path, local->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_STATE,
                   "checkpoint '%s' is not a JSON object", path);
      return NULL;
    }
  JsonObject *meta = json_node_get_object (root);

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

  if (!load_weights (weights_path, model, strict, error))
    return NULL;

  if (optimizer != NULL && optim_path != NULL)
    {
      g_autoptr(MactTensorDict) state = mact_safetensors_load (optim_path, NULL, error);
      if (state == NULL)
        return NULL;
      if (!mact_optimizer_load_state_dict (optimizer, state, error))
        {
          g_prefix_error (error, "checkpoint '%s': ", optim_path);
          return NULL;
        }
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
 * symbolic link, without depending on the file system supporting links.
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
  return TRUE;
}
