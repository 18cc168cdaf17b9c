/* trelbo: batched ELBO estimation with Pyro-style effect handlers. The only include needed. */
#ifndef TRELBO_H
#define TRELBO_H

#include "trelbo/status.h"
#include "trelbo/ctx.h"
#include "trelbo/tensor.h"
#include "trelbo/dist.h"
#include "trelbo/param.h"
#include "trelbo/messenger.h"
#include "trelbo/trace.h"
#include "trelbo/handlers.h"
#include "trelbo/infer.h"
#include "trelbo/optim.h"

#define TRELBO_VERSION_MAJOR 0
#define TRELBO_VERSION_MINOR 1
#define TRELBO_VERSION_PATCH 0

#endif
