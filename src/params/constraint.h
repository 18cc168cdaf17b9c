/* The rules a constraint and a value of it must satisfy: one function serves the transforms
 * (and so tre_param's first use, which stores T^-1(init), and every read, T(u)) and the param
 * store's loads (each saved record), so that a file cannot hold a param that tre_param would
 * refuse to make. */
#ifndef TRELBO_PARAMS_CONSTRAINT_H
#define TRELBO_PARAMS_CONSTRAINT_H
#include <stdbool.h>
#include <stddef.h>
#include "../tensor/tensor_impl.h"

/* Whether c is a constraint a param can have (a known kind; a finite lower bound for
 * greater_than; finite bounds with lower < upper, and a finite upper - lower, for interval) and
 * a value of shape (ndim, shape) fits it: on the unconstrained side (`unconstrained`: a param's
 * stored value, the argument of T) or the constrained side (an init, the argument of T^-1).
 * Simplex needs at least one dim (and K >= 2 entries in the last on the constrained side),
 * lower_cholesky a square matrix in the last two. false with *status (TRE_ERR_INVALID_ARG for
 * the constraint, TRE_ERR_SHAPE for the shape) and the reason in why[0..n), naming the value as
 * `arg` (e.g. "argument u"). */
bool tre_constraint_fits(tre_constraint c, bool unconstrained, int ndim, const int64_t *shape,
                         const char *arg, tre_status *status, char *why, size_t n);
#endif
