// SPDX-License-Identifier: BSD-3-Clause
/* Child processes that die with their parent (spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/spawn.h"

pid_t wave_spawn(char *const argv[], int quiet)
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The parent may have died before prctl: then die now. */
		if (getppid() != parent)
			_exit(127);
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int wave_reap(pid_t *pid, int timeout_ms)
{
	int st = 0, ret = -1;

	if (*pid <= 0)
		return -1;
	kill(*pid, SIGCONT);
	kill(*pid, SIGTERM);
	for (int ms = 0; ms < timeout_ms; ms += 10) {
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			ret = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			*pid = 0;
			return ret;
		}
		usleep(10000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
	return -1;
}
