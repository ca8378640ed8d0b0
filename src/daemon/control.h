/* SPDX-License-Identifier: MIT */
#pragma once

/* io.ballast.Agent: the method table of the control socket, each method a thin layer over the manager. */

#include "varlink/varlink.h"

extern const VarlinkMethod control_methods[];
