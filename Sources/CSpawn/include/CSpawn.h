#ifndef CSPAWN_H
#define CSPAWN_H

// The module's umbrella: the spawn call and the Linux calls Swift's Glibc
// module does not import.
#include "batch_spawn.h"
#include "batch_linux.h"

#endif
