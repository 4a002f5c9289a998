/* mact-lr-schedule.c: mmcv 1.x's LrUpdaterHook policies as a pure function of the
 * training position.
 *
 * mmcv keeps the lr in hook state: before_train_epoch sets the "regular" lr (by_epoch
 * schedules), before_train_iter sets it per iteration (iteration schedules) or overwrites
 * it with a warmup lr while runner.iter < warmup_iters.  Replaying those calls in order
 * gives, for the iteration about to run,
 *
 *   regular = policy (base_lr, by_epoch ? epoch : iter)
 *   lr      = iter < warmup_iters ? warmup (regular, iter) : regular
 *
 * which is what mact_lr_schedule_get_lr() computes, so a resumed run needs no schedule
 * state.  The formulas are restated from mmcv's documentation and source (own code);
 * arithmetic is done in double in the same order as mmcv's Python so the values agree to
 * the last bit on the same libm.
 *
 * Configs are mmaction2's `lr_config` dicts.  mmcv passes the keys to the hook's
 * constructor as keyword arguments, so an unknown key is an error there (TypeError) and is
 * one here; value checks follow mmcv's asserts, plus the ones mmcv forgets (negative
 * gamma or min_lr, a step list that is not increasing). */
#include <mact/mact.h>

#include <math.h>
#include <string.h>

typedef enum {
  POLICY_FIXED,
  POLICY_STEP,
  POLICY_COSINE_ANNEALING,
} Policy;

typedef enum {
  WARMUP_NONE,
  WARMUP_CONSTANT,
  WARMUP_LINEAR,
  WARMUP_EXP,
} Warmup;

struct _MactLrSchedule
{
  GObject parent_instance;

  Policy   policy;
  gboolean by_epoch;

  Warmup   warmup;
  guint64  warmup_iters;      /* epochs when warmup_by_epoch */
  double   warmup_ratio;
  gboolean warmup_by_epoch;

  /* step: either every step_every epochs/iterations, or at the sorted steps[]. */
  guint64  step_every;
  guint64 *steps;
  guint    n_steps;
  double   gamma;

  /* step: min_lr clips (when has_min_lr); cosine: the target is min_lr or
   * base_lr * min_lr_ratio, exactly one of which is set. */
  gboolean has_min_lr;
  double   min_lr;
  gboolean has_min_lr_ratio;
  double   min_lr_ratio;
};

/**
 * MactLrSchedule:
 *
 * A learning-rate schedule read from mmaction2's `lr_config`: mmcv 1.x's "fixed", "step"
 * and "CosineAnnealing" policies with an optional "constant", "linear" or "exp" warmup.
 * Immutable once built; the lr is a pure function of the training position, so one
 * schedule may be queried from any thread.
 *
 * Since: 0.1
 */
G_DEFINE_FINAL_TYPE (MactLrSchedule, mact_lr_schedule, G_TYPE_OBJECT)

static void
mact_lr_schedule_finalize (GObject *object)
{
  MactLrSchedule *self = MACT_LR_SCHEDULE (object);
  g_free (self->steps);
  G_OBJECT_CLASS (mact_lr_schedule_parent_class)->finalize (object);
}

static void
mact_lr_schedule_class_init (MactLrScheduleClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mact_lr_schedule_finalize;
}

static void
mact_lr_schedule_init (MactLrSchedule *self)
{
  /* mmcv's defaults: by_epoch=True, warmup=None, warmup_iters=0, warmup_ratio=0.1,
   * warmup_by_epoch=False; StepLrUpdaterHook's gamma=0.1. */
  self->policy = POLICY_FIXED;
  self->by_epoch = TRUE;
  self->warmup = WARMUP_NONE;
  self->warmup_ratio = 0.1;
  self->gamma = 0.1;
}

/* ------------------------------------------------------------------ config reading */

static void invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
invalid (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *detail = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, MACT_TRAIN_ERROR, MACT_TRAIN_ERROR_INVALID_CONFIG, "lr_config: %s",
               detail);
}


static gboolean
holds (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
read_bool (JsonNode *node, const char *key, gboolean *out, GError **error)
{
  if (!holds (node, G_TYPE_BOOLEAN))
    {
      invalid (error, "'%s' expects a boolean, got %s", key, mact_config_describe_value (node));
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* A non-negative integer no larger than @max.  As elsewhere in mact's config reading, an
 * exactly integral JSON float (40.0) counts as an integer; 2.5 does not.  @what names the
 * value ("'step'", "'step[1]'"). */
static gboolean
read_count (JsonNode *node, const char *what, guint64 max, guint64 *out, GError **error)
{
  if (holds (node, G_TYPE_INT64))
    {
      gint64 v = json_node_get_int (node);
      if (v < 0)
        {
          invalid (error, "%s must not be negative, got %" G_GINT64_FORMAT, what, v);
          return FALSE;
        }
      if ((guint64) v > max)
        {
          invalid (error, "%s must be at most %" G_GUINT64_FORMAT ", got %" G_GINT64_FORMAT,
                   what, max, v);
          return FALSE;
        }
      *out = (guint64) v;
      return TRUE;
    }
  if (holds (node, G_TYPE_DOUBLE))
    {
      double d = json_node_get_double (node);
      if (!isfinite (d) || floor (d) != d)
        {
          invalid (error, "%s expects an integer, got the non-integral number %g", what, d);
          return FALSE;
        }
      if (d < 0)
        {
          invalid (error, "%s must not be negative, got %g", what, d);
          return FALSE;
        }
      if (d > (double) max)
        {
          invalid (error, "%s must be at most %" G_GUINT64_FORMAT ", got %g", what, max, d);
          return FALSE;
        }
      *out = (guint64) d;
      return TRUE;
    }
  invalid (error, "%s expects an integer, got %s", what, mact_config_describe_value (node));
  return FALSE;
}

/* A finite number >= 0; integers are converted as Python would. */
static gboolean
read_non_negative (JsonNode *node, const char *key, double *out, GError **error)
{
  if (!holds (node, G_TYPE_INT64) && !holds (node, G_TYPE_DOUBLE))
    {
      invalid (error, "'%s' expects a number, got %s", key, mact_config_describe_value (node));
      return FALSE;
    }
  double d = json_node_get_double (node);
  if (!isfinite (d))
    {
      invalid (error, "'%s' must be finite, got %g", key, d);
      return FALSE;
    }
  if (d < 0)
    {
      invalid (error, "'%s' must not be negative, got %g", key, d);
      return FALSE;
    }
  *out = d;
  return TRUE;
}

/* `step`: a positive int (decay every `step` epochs/iterations) or a list of positive,
 * strictly increasing ints (decay at each).  mmcv only asserts positivity; a list out of
 * order would make its "first step above progress" search decay at the wrong times, so it
 * is refused here.  An empty list is accepted, as in mmcv: the lr never decays. */
static gboolean
read_step (MactLrSchedule *self, JsonNode *node, GError **error)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);
      g_autofree guint64 *steps = g_new (guint64, MAX (n, 1));
      for (guint i = 0; i < n; i++)
        {
          g_autofree char *what = g_strdup_printf ("'step[%u]'", i);
          if (!read_count (json_array_get_element (array, i), what, G_MAXINT64, &steps[i],
                           error))
            return FALSE;
          if (steps[i] == 0)
            {
              invalid (error, "%s must be positive, got 0", what);
              return FALSE;
            }
          if (i > 0 && steps[i] <= steps[i - 1])
            {
              invalid (error, "'step' must be strictly increasing, got %" G_GUINT64_FORMAT
                       " after %" G_GUINT64_FORMAT " at index %u", steps[i], steps[i - 1],
                       i);
              return FALSE;
            }
        }
      self->steps = g_steal_pointer (&steps);
      self->n_steps = n;
      self->step_every = 0;
      return TRUE;
    }
  if (holds (node, G_TYPE_INT64) || holds (node, G_TYPE_DOUBLE))
    {
      if (!read_count (node, "'step'", G_MAXINT64, &self->step_every, error))
        return FALSE;
      if (self->step_every == 0)
        {
          invalid (error, "'step' must be positive, got 0");
          return FALSE;
        }
      return TRUE;
    }
  invalid (error, "'step' expects an integer or a list of integers, got %s",
           mact_config_describe_value (node));
  return FALSE;
}

static gboolean
read_warmup (MactLrSchedule *self, JsonNode *node, GError **error)
{
  if (JSON_NODE_HOLDS_NULL (node))
    {
      self->warmup = WARMUP_NONE;
      return TRUE;
    }
  if (!holds (node, G_TYPE_STRING))
    {
      invalid (error, "'warmup' expects null or a string, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  const char *name = json_node_get_string (node);
  if (g_strcmp0 (name, "constant") == 0)
    self->warmup = WARMUP_CONSTANT;
  else if (g_strcmp0 (name, "linear") == 0)
    self->warmup = WARMUP_LINEAR;
  else if (g_strcmp0 (name, "exp") == 0)
    self->warmup = WARMUP_EXP;
  else
    {
      invalid (error, "'warmup' must be null, \"constant\", \"linear\" or \"exp\", got \"%s\"",
               name);
      return FALSE;
    }
  return TRUE;
}

/* mmcv's runner turns the policy into a hook name: an all-lowercase policy is
 * title-cased ("step" -> "StepLrUpdaterHook"), anything else is used as written.  So
 * "fixed", "Fixed", "step", "Step" and "CosineAnnealing" are the spellings it accepts for
 * these three policies. */
static gboolean
read_policy (JsonNode *node, Policy *out, GError **error)
{
  if (!holds (node, G_TYPE_STRING))
    {
      invalid (error, "'policy' expects a string, got %s", mact_config_describe_value (node));
      return FALSE;
    }
  const char *name = json_node_get_string (node);
  if (g_strcmp0 (name, "fixed") == 0 || g_strcmp0 (name, "Fixed") == 0)
    *out = POLICY_FIXED;
  else if (g_strcmp0 (name, "step") == 0 || g_strcmp0 (name, "Step") == 0)
    *out = POLICY_STEP;
  else if (g_strcmp0 (name, "CosineAnnealing") == 0)
    *out = POLICY_COSINE_ANNEALING;
  else
    {
      invalid (error, "'policy' \"%s\" is not supported (supported: \"fixed\", \"step\", "
               "\"CosineAnnealing\")", name);
      return FALSE;
    }
  return TRUE;
}

static const char *const common_keys[] = {
  "policy", "by_epoch", "warmup", "warmup_iters", "warmup_ratio", "warmup_by_epoch", NULL,
};
static const char *const step_keys[] = { "step", "gamma", "min_lr", NULL };
static const char *const cosine_keys[] = { "min_lr", "min_lr_ratio", NULL };

static const char *const *
policy_keys (Policy policy)
{
  switch (policy)
    {
    case POLICY_STEP:
      return step_keys;
    case POLICY_COSINE_ANNEALING:
      return cosine_keys;
    case POLICY_FIXED:
    default:
      return NULL;
    }
}

static const char *
policy_name (Policy policy)
{
  switch (policy)
    {
    case POLICY_STEP:
      return "step";
    case POLICY_COSINE_ANNEALING:
      return "CosineAnnealing";
    case POLICY_FIXED:
    default:
      return "fixed";
    }
}

static gboolean
check_keys (JsonObject *object, Policy policy, GError **error)
{
  const char *const *extra = policy_keys (policy);
  g_autoptr(GList) members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      if (g_strv_contains (common_keys, key) || (extra && g_strv_contains (extra, key)))
        continue;
      g_autofree char *known_common = g_strjoinv (", ", (char **) common_keys);
      g_autofree char *known_extra = extra ? g_strjoinv (", ", (char **) extra) : NULL;
      invalid (error, "unknown key '%s' for policy \"%s\" (known: %s%s%s)", key,
               policy_name (policy), known_common, extra ? ", " : "",
               extra ? known_extra : "");
      return FALSE;
    }
  return TRUE;
}

/* The member @key, or NULL when it is absent.  Python's None (JSON null) counts as
 * absent for the optional numbers (min_lr, min_lr_ratio), as in mmcv's signatures. */
static JsonNode *
member (JsonObject *object, const char *key)
{
  return json_object_has_member (object, key) ? json_object_get_member (object, key) : NULL;
}

static JsonNode *
member_not_null (JsonObject *object, const char *key)
{
  JsonNode *node = member (object, key);
  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? node : NULL;
}

static gboolean
configure (MactLrSchedule *self, JsonObject *object, GError **error)
{
  JsonNode *node = member (object, "policy");
  if (node == NULL)
    {
      invalid (error, "missing required key 'policy'");
      return FALSE;
    }
  if (!read_policy (node, &self->policy, error))
    return FALSE;
  if (!check_keys (object, self->policy, error))
    return FALSE;

  if ((node = member (object, "by_epoch")) && !read_bool (node, "by_epoch", &self->by_epoch,
                                                          error))
    return FALSE;
  if ((node = member (object, "warmup")) && !read_warmup (self, node, error))
    return FALSE;
  if ((node = member (object, "warmup_by_epoch"))
      && !read_bool (node, "warmup_by_epoch", &self->warmup_by_epoch, error))
    return FALSE;
  /* Bounded so that warmup_iters * epoch_len cannot overflow 64 bits. */
  if ((node = member (object, "warmup_iters"))
      && !read_count (node, "'warmup_iters'", G_MAXINT32, &self->warmup_iters, error))
    return FALSE;
  if ((node = member (object, "warmup_ratio"))
      && !read_non_negative (node, "warmup_ratio", &self->warmup_ratio, error))
    return FALSE;

  /* mmcv asserts these only when a warmup is configured; the ratio is checked always,
   * since a value outside (0, 1] is never meaningful. */
  if (self->warmup != WARMUP_NONE && self->warmup_iters == 0)
    {
      invalid (error, "'warmup_iters' must be positive when 'warmup' is set, got 0");
      return FALSE;
    }
  if (!(self->warmup_ratio > 0 && self->warmup_ratio <= 1))
    {
      invalid (error, "'warmup_ratio' must be in (0, 1], got %g", self->warmup_ratio);
      return FALSE;
    }

  switch (self->policy)
    {
    case POLICY_STEP:
      if ((node = member (object, "step")) == NULL)
        {
          invalid (error, "missing required key 'step' for policy \"step\"");
          return FALSE;
        }
      if (!read_step (self, node, error))
        return FALSE;
      if ((node = member (object, "gamma")) && !read_non_negative (node, "gamma",
                                                                    &self->gamma, error))
        return FALSE;
      if ((node = member_not_null (object, "min_lr")))
        {
          if (!read_non_negative (node, "min_lr", &self->min_lr, error))
            return FALSE;
          self->has_min_lr = TRUE;
        }
      break;

    case POLICY_COSINE_ANNEALING:
      if ((node = member_not_null (object, "min_lr")))
        {
          if (!read_non_negative (node, "min_lr", &self->min_lr, error))
            return FALSE;
          self->has_min_lr = TRUE;
        }
      if ((node = member_not_null (object, "min_lr_ratio")))
        {
          if (!read_non_negative (node, "min_lr_ratio", &self->min_lr_ratio, error))
            return FALSE;
          self->has_min_lr_ratio = TRUE;
        }
      if (self->has_min_lr == self->has_min_lr_ratio)
        {
          invalid (error, "policy \"CosineAnnealing\" needs exactly one of 'min_lr' and "
                   "'min_lr_ratio', got %s", self->has_min_lr ? "both" : "neither");
          return FALSE;
        }
      break;

    case POLICY_FIXED:
    default:
      break;
    }
  return TRUE;
}

/**
 * mact_lr_schedule_new_from_config:
 * @lr_config: (nullable): mmaction2's `lr_config` dict as JSON, or %NULL
 * @error: return location for a #GError
 *
 * Builds a learning-rate schedule with mmcv 1.x's LrUpdaterHook semantics.
 *
 * Keys: `policy` ("fixed", "step" or "CosineAnnealing"; "Fixed" and "Step" also, as mmcv
 * title-cases lowercase names), `by_epoch` (default true), `warmup` (null, "constant",
 * "linear" or "exp"), `warmup_iters` (positive when `warmup` is set; epochs when
 * `warmup_by_epoch`), `warmup_ratio` (in (0, 1], default 0.1), `warmup_by_epoch`
 * (default false).  "step" adds `step` (a positive integer: decay every `step`
 * epochs/iterations; or a strictly increasing list: decay at each), `gamma` (default 0.1)
 * and `min_lr` (a floor, default none).  "CosineAnnealing" adds exactly one of `min_lr`
 * and `min_lr_ratio` (a fraction of the initial lr).
 *
 * A %NULL or JSON-null @lr_config gives a constant lr, as a runner without an lr hook in
 * mmcv.  A missing `policy`, an unknown policy or key, a value of the wrong JSON type, a
 * negative or out-of-range value, a step list that is not increasing, and both or
 * neither of `min_lr`/`min_lr_ratio` for cosine annealing are
 * %MACT_TRAIN_ERROR_INVALID_CONFIG; the message names the key.  @lr_config is not
 * modified.
 *
 * Returns: (transfer full) (nullable): the schedule, or %NULL on error
 *
 * Since: 0.1
 */
MactLrSchedule *
mact_lr_schedule_new_from_config (JsonNode *lr_config, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr(MactLrSchedule) self = g_object_new (MACT_TYPE_LR_SCHEDULE, NULL);
  if (lr_config == NULL || JSON_NODE_HOLDS_NULL (lr_config))
    return g_steal_pointer (&self);
  if (!JSON_NODE_HOLDS_OBJECT (lr_config))
    {
      invalid (error, "expects an object, got %s", mact_config_describe_value (lr_config));
      return NULL;
    }
  if (!configure (self, json_node_get_object (lr_config), error))
    return NULL;
  return g_steal_pointer (&self);
}

/* ------------------------------------------------------------------ the schedule */

/* mmcv's annealing_cos with weight 1: cosine from @start (factor 0) to @end (factor 1). */
static double
annealing_cos (double start, double end, double factor)
{
  double cos_out = cos (G_PI * factor) + 1;
  return end + 0.5 * (start - end) * cos_out;
}

static double
regular_lr (MactLrSchedule *self, double base_lr, guint epoch, guint64 iter, guint epoch_len,
            guint max_epochs)
{
  guint64 progress = self->by_epoch ? epoch : iter;

  switch (self->policy)
    {
    case POLICY_STEP:
      {
        guint64 exponent;
        if (self->step_every > 0)
          exponent = progress / self->step_every;
        else
          {
            /* The number of steps already reached: the index of the first step above
             * progress, or all of them. */
            exponent = self->n_steps;
            for (guint i = 0; i < self->n_steps; i++)
              if (progress < self->steps[i])
                {
                  exponent = i;
                  break;
                }
          }
        double lr = base_lr * pow (self->gamma, (double) exponent);
        if (self->has_min_lr)
          lr = MAX (lr, self->min_lr);
        return lr;
      }

    case POLICY_COSINE_ANNEALING:
      {
        guint64 max_progress = self->by_epoch ? max_epochs : (guint64) max_epochs * epoch_len;
        double target = self->has_min_lr_ratio ? base_lr * self->min_lr_ratio : self->min_lr;
        return annealing_cos (base_lr, target, (double) progress / (double) max_progress);
      }

    case POLICY_FIXED:
    default:
      return base_lr;
    }
}

/**
 * mact_lr_schedule_get_lr:
 * @self: a schedule
 * @base_lr: the initial lr of the parameter group (mmcv's `initial_lr`)
 * @epoch: the epoch of the iteration about to run, from 0
 * @iter: the global index of the iteration about to run, from 0
 * @epoch_len: iterations per epoch, positive
 * @max_epochs: epochs in the run, positive
 *
 * The lr that mmcv's LrUpdaterHook sets for this iteration (before_train_epoch, then
 * before_train_iter).
 *
 * The regular lr follows the policy with the epoch as progress when `by_epoch`, else
 * the global iteration; cosine annealing runs up to @max_epochs, or
 * @max_epochs × @epoch_len iterations.  While @iter is below the warmup length
 * (`warmup_iters`, times @epoch_len when `warmup_by_epoch`) the warmup scales the regular
 * lr: by `warmup_ratio` ("constant"), linearly from `warmup_ratio` towards 1 ("linear"),
 * or by `warmup_ratio` ^ (1 - @iter / warmup length) ("exp").
 *
 * The schedule has no state: the lr depends only on the arguments, so a resumed run gets
 * the same values as an uninterrupted one.
 *
 * Returns: the lr
 *
 * Since: 0.1
 */
double
mact_lr_schedule_get_lr (MactLrSchedule *self, double base_lr, guint epoch, guint64 iter,
                         guint epoch_len, guint max_epochs)
{
  g_return_val_if_fail (MACT_IS_LR_SCHEDULE (self), base_lr);
  g_return_val_if_fail (epoch_len > 0, base_lr);
  g_return_val_if_fail (max_epochs > 0, base_lr);

  double regular = regular_lr (self, base_lr, epoch, iter, epoch_len, max_epochs);
  if (self->warmup == WARMUP_NONE)
    return regular;

  guint64 warmup_iters = self->warmup_by_epoch ? self->warmup_iters * epoch_len
                                               : self->warmup_iters;
  if (iter >= warmup_iters)
    return regular;

  double done = (double) iter / (double) warmup_iters;
  switch (self->warmup)
    {
    case WARMUP_CONSTANT:
      return regular * self->warmup_ratio;
    case WARMUP_LINEAR:
      {
        double k = (1 - done) * (1 - self->warmup_ratio);
        return regular * (1 - k);
      }
    case WARMUP_EXP:
      return regular * pow (self->warmup_ratio, 1 - done);
    case WARMUP_NONE:
    default:
      return regular;
    }
}

/**
 * mact_lr_schedule_get_by_epoch:
 * @self: a schedule
 *
 * Whether the regular lr changes per epoch (`by_epoch`, mmcv's default) rather than per
 * iteration.  A warmup changes the lr per iteration either way.
 *
 * Returns: %TRUE when the regular lr follows the epoch
 *
 * Since: 0.1
 */
gboolean
mact_lr_schedule_get_by_epoch (MactLrSchedule *self)
{
  g_return_val_if_fail (MACT_IS_LR_SCHEDULE (self), TRUE);
  return self->by_epoch;
}
