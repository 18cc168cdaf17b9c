/* Status codes returned by every public call, and their names. */
#ifndef TRELBO_STATUS_H
#define TRELBO_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tre_status {
    TRE_OK = 0,
    TRE_ERR_INVALID_ARG,   /* a NULL, out-of-range or otherwise bad argument */
    TRE_ERR_SHAPE,         /* shapes or particle extents that do not broadcast */
    TRE_ERR_DUPLICATE_SITE,/* two sample sites with one name, or a name used by two site types */
    TRE_ERR_REPLAY,        /* replay found a trace node it cannot use */
    TRE_ERR_STACK,         /* push of a handler already on the stack, pop of one not on top */
    TRE_ERR_PARAM,         /* param store: missing param without init, bad init (dtype,
                              per-particle); an optimiser state without its param */
    TRE_ERR_DIST,          /* a distribution parameter or value outside its constraint */
    TRE_ERR_PLATE,         /* plate dim clash, duplicate plate, size mismatch */
    TRE_ERR_MODEL,         /* model/guide mismatch (e.g. a non-auxiliary guide-only site) */
    TRE_ERR_OUT_OF_MEMORY,
    TRE_ERR_BACKEND,       /* the backend failed or is not available */
    TRE_ERR_UNSUPPORTED,   /* asked for something this build does not provide */
    TRE_ERR_IO             /* a checkpoint file that cannot be read or written, or is not one */
} tre_status;

/* A short constant name for a status ("TRE_ERR_SHAPE"). */
const char *tre_status_name(tre_status s);

#ifdef __cplusplus
}
#endif
#endif
