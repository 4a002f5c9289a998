/* mact-test.h: helpers shared by the cmocka tests.
 *
 * Fixtures are safetensors files written by tests/fixtures/gen_*.py with Debian's PyTorch
 * and committed under tests/data/ops/; the tests only read them.  Parameters of a case
 * are strings in the file's __metadata__.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <mact/mact.h>

typedef struct _MactTestFixture MactTestFixture;

/* Loads tests/data/ops/NAME.safetensors; fails the running test if it cannot. */
MactTestFixture *mact_test_fixture_load        (const char *name);
void             mact_test_fixture_free        (MactTestFixture *fixture);
/* (transfer none) The tensor named KEY; fails the test when absent. */
MactTensor      *mact_test_fixture_get         (MactTestFixture *fixture, const char *key);
gboolean         mact_test_fixture_has         (MactTestFixture *fixture, const char *key);
/* Metadata values; fail the test when absent. */
const char      *mact_test_fixture_meta        (MactTestFixture *fixture, const char *key);
gint64           mact_test_fixture_meta_int    (MactTestFixture *fixture, const char *key);
double           mact_test_fixture_meta_double (MactTestFixture *fixture, const char *key);
/* Parses a metadata value "a,b,c" into ints; returns how many were read (max n_max). */
gint             mact_test_fixture_meta_ints   (MactTestFixture *fixture, const char *key,
                                                gint64 *out, gint n_max);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MactTestFixture, mact_test_fixture_free)

/* Call first in main().  Under the valgrind setup (meson test --setup valgrind sets
 * MACT_TEST_UNDER_VALGRIND) it leaves out the tests named test_full_*: full-size networks
 * whose code paths the small-shape tests already cover, and which would take minutes
 * under valgrind.  They still run in the plain unit suite. */
void  mact_test_init (void);

/* Builds a block from a JSON config with the default registry (mact_registry_build_from_json). */
MactModule *mact_test_try_build          (const char *json, GType kind, GError **error);
/* As mact_test_try_build(), failing the running test on error. */
MactModule *mact_test_build_kind         (const char *json, GType kind);
/* Asserts that building @json as any module fails with @domain and @code. */
void        mact_test_assert_build_error (const char *json, GQuark domain, gint code);

/* Removes @dir and everything under it (temporary work directories of tests). */
void  mact_test_remove_tree (const char *dir);

/* Asserts equal shapes and max|got - expected| <= tol * max(1, max|expected|). */
void  mact_test_assert_close (MactTensor *got, MactTensor *expected, double tol,
                              const char *what);
/* Asserts that @error is set with @domain and @code, then clears it. */
void  mact_test_assert_error (GError **error, GQuark domain, gint code);

/* A fresh tensor filled uniformly in [low, high) from a generator seeded with @seed. */
MactTensor *mact_test_random (gint ndim, const gint64 *shape, guint64 seed,
                              double low, double high);

/* A function of tensors, for gradient checking.  Must return a new tensor or NULL. */
typedef MactTensor *(*MactTestFunc) (MactTensor **inputs, gpointer user_data,
                                     GError **error);

/* Checks autograd against central finite differences for every input that requires grad.
 *
 * The scalar probed is L = sum(f(x) * R) with a fixed random R, accumulated in double.
 * Each element of each input is moved by +-eps; the numeric derivative
 * (L+ - L-) / 2eps must match the analytic one within atol + rtol * |numeric|, with
 * atol = rtol * max(1, max|numeric|).  Inputs must be contiguous leaf tensors. */
void  mact_test_gradcheck (MactTestFunc func, MactTensor **inputs, guint n_inputs,
                           gpointer user_data, double eps, double rtol);

/* Writes a real video file @dir/@name (the container from the extension), 32x24 at 25
 * fps: @n_frames frames of grey level @background with a white vertical bar that starts
 * at column @offset and moves @speed columns per frame (wrapping).  Fails the test when
 * the file cannot be written.  Returns the path (free it). */
char *mact_test_write_bar_clip (const char *dir, const char *name, gint n_frames,
                                float background, gint speed, gint offset);

/* The `mact` program (MACT_TEST_CLI, the build tree's) run as a child process. */
typedef struct {
  int   status;   /* the exit status */
  char *out;
  char *err;
} MactTestRun;

void        mact_test_run_clear    (MactTestRun *r);
/* Runs `mact ARGS...` (@args NULL-terminated) with @env_extra ("NAME=value" strings,
 * nullable) added to the environment.  Children run single-threaded: several tests run
 * at once on a small machine.  Fails the test if the child cannot be started or does not
 * exit normally. */
MactTestRun mact_test_run_cli_envv (const char *const *env_extra, const char *const *args);
#define mact_test_run_cli(...) \
  mact_test_run_cli_envv (NULL, (const char *const[]) { __VA_ARGS__, NULL })
