/* The next steps' commands, one copy of each line. */
#include "nextsteps.h"

#include <stdio.h>

int next_steps_commands(struct strbuf *b, const struct next_steps *s)
{
	if (strbuf_printf(b,
		"  start it:          lxc-start -n %s%s%s\n"
		"  its login prompt:  lxc-console -n %s%s -t 1   (Ctrl-a q leaves; root has no password on the console)\n"
		"  a shell inside:    lxc-attach -n %s%s\n"
		"  its logs:          %s/host/amphi.sock, followed with\n"
		"                     %s logs --connect %s/host/amphi.sock --follow\n",
		s->name, s->at, s->start_at, s->name, s->at, s->name, s->at, s->dir, s->amphi, s->dir) < 0)
		return -1;
	/* Where amphi is not installed (lxc-local's hosts), the Anaconda
	 * port's FIFO gives the log as text lines. */
	if (!s->without_amphi)
		return strbuf_printf(b, "                     and the console in %s/console.log\n", s->dir);
	return strbuf_printf(b,
		"                     (amphi: build/amphi in the amphi tree that built this appliance); without it,\n"
		"                     mkdir -p %s/host; mkfifo %s/host/anaconda.fifo (at any time), then\n"
		"                     cat %s/host/anaconda.fifo shows the log as text lines;\n"
		"                     the console is in %s/console.log\n",
		s->dir, s->dir, s->dir, s->dir);
}

int next_steps_stop(struct strbuf *b, const struct next_steps *s)
{
	return strbuf_printf(b, "  stop it:           lxc-stop -n %s%s      restart: lxc-stop -r -n %s%s\n", s->name, s->at,
			     s->name, s->at);
}
