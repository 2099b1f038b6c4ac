/* Signals reach PID 1 only through a signalfd in the loop; a table maps
 * each one to an action. */
#ifndef AMPHI_SIGNALS_H
#define AMPHI_SIGNALS_H

/* Blocks every signal and registers the signalfd. Returns 0 or -errno. */
int signals_init(void);

#endif
