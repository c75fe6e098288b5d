// SPDX-License-Identifier: Apache-2.0
/*
 * box ROOT UID COMMAND [ARG...]
 *
 * A container as runtimes make one: COMMAND runs as UID (and gid UID), pid 1
 * of a new pid namespace, in a new mount namespace whose root is ROOT, entered
 * with pivot_root() rather than chroot(). That matters to a profiler: the
 * paths in /proc/PID/maps are then the container's own ("/app/x"), to be
 * resolved inside /proc/PID/root, and ".." cannot climb out of it. ROOT holds
 * everything COMMAND needs (the test programs are static).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	_exit(111);
}

int main(int argc, char **argv)
{
	const char *root;
	uid_t uid;
	int status;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr, "usage: %s ROOT UID COMMAND [ARG...]\n", argv[0]);
		return 2;
	}
	root = argv[1];
	uid = (uid_t)strtoul(argv[2], NULL, 10);
	if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0)
		die("unshare");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount(root, root, NULL, MS_BIND | MS_REC, NULL) != 0 || chdir(root) != 0)
			die("mount");
		if (mkdir(".oldroot", 0700) != 0 && errno != EEXIST)
			die("mkdir");
		if (syscall(SYS_pivot_root, ".", ".oldroot") != 0 || chdir("/") != 0)
			die("pivot_root");
		if (umount2("/.oldroot", MNT_DETACH) != 0)
			die("umount");
		rmdir("/.oldroot");
		if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
			die("setuid");
		execv(argv[3], argv + 3);
		die(argv[3]);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return 111;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
