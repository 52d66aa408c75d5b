/* Being written. */
#include "config.h"
