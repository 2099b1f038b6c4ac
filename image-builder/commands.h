/* The amphi subcommands; each returns the process exit status. */
#ifndef AMPHI_COMMANDS_H
#define AMPHI_COMMANDS_H

int cmd_build(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_lxc_template(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_install(int argc, char **argv);
int cmd_ctl(int argc, char **argv);

#endif
