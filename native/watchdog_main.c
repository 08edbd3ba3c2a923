/* The watchdog as its own executable, for the JIT-run tests (the product runs
   `podmon --pod-watchdog`, dispatched in early.c before the runtime starts). */
#include "podmon.h"

int main(void) { return pm_watchdog_main(3); }
