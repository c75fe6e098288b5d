// SPDX-License-Identifier: Apache-2.0
/*
 * lib/safe_open attacked the ways issue 16 found: symlinks out of a root
 * (absolute, relative, through directories), FIFOs, devices, a terminal,
 * hard links, a file swapped for a FIFO while it is opened, oversize files.
 * Every resolution case runs twice: through openat2() and through the
 * component walk used where the kernel lacks it. An alarm ends the binary if
 * anything blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "safe_open.h"
#include "test.h"

static char base[] = "/tmp/fornax-safe-open-XXXXXX";
static char root[4200], outside[4200];
static int root_fd = -1;
static const unsigned modes[] = { 0, SAFE_OPEN_NO_OPENAT2 };

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char p[8400];
	FILE *f;

	path_in(p, sizeof(p), dir, name);
	f = fopen(p, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int make_symlink(const char *target, const char *name)
{
	char p[8400];

	path_in(p, sizeof(p), root, name);
	return symlink(target, p);
}

/* The content of what safe_open__in_root() opens, or NULL with *err. */
static char *open_read(const char *path, const struct safe_open_opts *o, int *err)
{
	char *buf = NULL;
	size_t len;
	int fd = safe_open__in_root(root_fd, path, o, NULL);

	*err = fd < 0 ? fd : 0;
	if (fd < 0)
		return NULL;
	*err = read_fd_all(fd, 1 << 20, (void **)&buf, &len);
	close(fd);
	return buf;
}

static int setup(void)
{
	char p[8400];

	if (!mkdtemp(base))
		return -1;
	path_in(root, sizeof(root), base, "root");
	path_in(outside, sizeof(outside), base, "outside");
	if (mkdir(root, 0755) || mkdir(outside, 0755))
		return -1;
	path_in(p, sizeof(p), root, "d");
	if (mkdir(p, 0755))
		return -1;
	path_in(p, sizeof(p), root, "d/e");
	if (mkdir(p, 0755))
		return -1;
	if (write_file(root, "inside.txt", "inside\n") || write_file(root, "d/e/deep.txt", "deep\n") ||
	    write_file(outside, "secret", "outside\n"))
		return -1;
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return root_fd < 0 ? -1 : 0;
}

TEST(plain_paths)
{
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .flags = modes[m] };
		char *s;
		int err;

		s = open_read("inside.txt", &o, &err);
		ASSERT_STREQ(s, "inside\n");
		free(s);
		s = open_read("/d/./e//deep.txt", &o, &err);
		ASSERT_STREQ(s, "deep\n");
		free(s);
		s = open_read("d/e/../../inside.txt", &o, &err);
		ASSERT_STREQ(s, "inside\n");
		free(s);
		ASSERT_TRUE(!open_read("missing", &o, &err) && err == -ENOENT);
		ASSERT_TRUE(!open_read("inside.txt/x", &o, &err) && err == -ENOTDIR);
		ASSERT_TRUE(!open_read("d", &o, &err) && err == -EISDIR);
		ASSERT_TRUE(!open_read("/", &o, &err) && err == -EISDIR);
	}
	return 0;
}

TEST(absolute_symlinks_stay_in_the_root)
{
	char secret[8400];

	path_in(secret, sizeof(secret), outside, "secret");
	/* the outside file by its real path, and a directory the way a container's /tmp does it */
	ASSERT_EQ(make_symlink(secret, "abs_out"), 0);
	ASSERT_EQ(make_symlink(outside, "hosttmp"), 0);
	ASSERT_EQ(make_symlink("/inside.txt", "abs_in"), 0);
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .flags = modes[m] };
		char *s;
		int err;

		ASSERT_TRUE(!open_read("abs_out", &o, &err) && err == -ENOENT);
		ASSERT_TRUE(!open_read("hosttmp/secret", &o, &err) && err == -ENOENT);
		ASSERT_TRUE(!open_read(secret, &o, &err) && err == -ENOENT);
		s = open_read("abs_in", &o, &err);
		ASSERT_STREQ(s, "inside\n");
		free(s);
	}
	return 0;
}

TEST(relative_symlinks_and_dotdot_stop_at_the_root)
{
	ASSERT_EQ(make_symlink("../../../../../../../../inside.txt", "d/e/up"), 0);
	ASSERT_EQ(make_symlink("../outside/secret", "rel_out"), 0);
	ASSERT_EQ(make_symlink("e/../../d", "d/back"), 0);
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .flags = modes[m] };
		char *s;
		int err;

		/* clamped at the root, where inside.txt is: not merely refused */
		s = open_read("d/e/up", &o, &err);
		ASSERT_STREQ(s, "inside\n");
		free(s);
		s = open_read("../../../../inside.txt", &o, &err);
		ASSERT_STREQ(s, "inside\n");
		free(s);
		ASSERT_TRUE(!open_read("rel_out", &o, &err) && err == -ENOENT);
		ASSERT_TRUE(!open_read("../outside/secret", &o, &err) && err == -ENOENT);
		s = open_read("d/back/e/deep.txt", &o, &err);
		ASSERT_STREQ(s, "deep\n");
		free(s);
	}
	return 0;
}

TEST(symlink_loops_and_chains)
{
	char name[32], target[32];

	ASSERT_EQ(make_symlink("loop", "loop"), 0);
	ASSERT_EQ(make_symlink("inside.txt", "chain0"), 0);
	for (int i = 1; i <= 50; i++) {
		snprintf(name, sizeof(name), "chain%d", i);
		snprintf(target, sizeof(target), "chain%d", i - 1);
		ASSERT_EQ(make_symlink(target, name), 0);
	}
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .flags = modes[m] };
		char *s;
		int err;

		ASSERT_TRUE(!open_read("loop", &o, &err) && err == -ELOOP);
		s = open_read("chain30", &o, &err);
		ASSERT_STREQ(s, "inside\n");
		free(s);
		ASSERT_TRUE(!open_read("chain50", &o, &err) && err == -ELOOP);
	}
	return 0;
}

/* SAFE_OPEN_NO_FOLLOW: a symlink is followed on the way, never as the file itself. */
TEST(no_follow_refuses_a_symlink_as_the_last_component)
{
	ASSERT_EQ(make_symlink("inside.txt", "last_link"), 0);
	ASSERT_EQ(make_symlink(".", "dir_link"), 0);
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .flags = modes[m] | SAFE_OPEN_NO_FOLLOW };
		char *s;
		int err;

		ASSERT_TRUE(!open_read("last_link", &o, &err));
		ASSERT_TRUE(err == -ELOOP || err == -EBADFD);
		s = open_read("dir_link/inside.txt", &o, &err);
		ASSERT_STREQ(s, "inside\n");
		free(s);
	}
	return 0;
}

TEST(fifos_and_devices_are_never_opened)
{
	char p[8400];

	path_in(p, sizeof(p), root, "fifo");
	ASSERT_EQ(mkfifo(p, 0600), 0);
	ASSERT_EQ(make_symlink("fifo", "to_fifo"), 0);
	/* inside a root, /dev/zero is that root's */
	ASSERT_EQ(make_symlink("/dev/zero", "zero"), 0);
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .flags = modes[m] };
		int slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), err;

		ASSERT_TRUE(!open_read("fifo", &o, &err) && err == -EBADFD);
		ASSERT_TRUE(!open_read("to_fifo", &o, &err) && err == -EBADFD);
		ASSERT_TRUE(!open_read("zero", &o, &err) && err == -ENOENT);
		ASSERT_EQ(safe_open__in_root(slash, "/dev/zero", &o, NULL), -EBADFD);
		ASSERT_EQ(safe_open__in_root(slash, "/dev/null", &o, NULL), -EBADFD);
		close(slash);
	}
	return 0;
}

/* In a new session (no controlling terminal), opens the pty slave; 0 if no terminal came with it. */
static int session_open(const char *tty, bool use_safe_open, unsigned mode)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct safe_open_opts o = { .flags = mode };
		int slash, fd;

		if (setsid() < 0)
			_exit(3);
		if (use_safe_open) {
			slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
			fd = safe_open__in_root(slash, tty, &o, NULL);
			if (fd != -EBADFD)
				_exit(4);
		} else if (open(tty, O_RDWR | O_CLOEXEC) < 0) {
			_exit(5);
		}
		_exit(open("/dev/tty", O_RDWR | O_CLOEXEC) >= 0 ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST(a_terminal_never_becomes_the_controlling_one)
{
	char tty[64];
	int master, slave;

	ASSERT_EQ(openpty(&master, &slave, tty, NULL, NULL), 0);
	/* the control: a plain open() does make it the session's terminal */
	ASSERT_EQ(session_open(tty, false, 0), 1);
	for (size_t m = 0; m < 2; m++)
		ASSERT_EQ(session_open(tty, true, modes[m]), 0);
	close(master);
	close(slave);
	return 0;
}

TEST(checks_on_the_file)
{
	char p[8400], q[8400];
	struct stat st;

	path_in(p, sizeof(p), root, "inside.txt");
	path_in(q, sizeof(q), root, "hard");
	ASSERT_EQ(stat(p, &st), 0);
	ASSERT_EQ(link(p, q), 0);
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .flags = modes[m] };
		struct stat got;
		int fd;

		o.ino = st.st_ino;
		o.dev = st.st_dev;
		fd = safe_open__in_root(root_fd, "inside.txt", &o, &got);
		ASSERT_TRUE(fd >= 0);
		ASSERT_UEQ(got.st_ino, st.st_ino);
		/* what the kernel keeps of the open flags */
		ASSERT_TRUE((fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK));
		ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
		o.ino = st.st_ino + 1;
		ASSERT_EQ(safe_open__in_root(root_fd, "inside.txt", &o, NULL), -ESTALE);
		o.ino = 0;
		o.dev = st.st_dev + 1;
		ASSERT_EQ(safe_open__in_root(root_fd, "inside.txt", &o, NULL), -ESTALE);
		o.dev = 0;

		o.flags = modes[m] | SAFE_OPEN_SINGLE_LINK;
		ASSERT_EQ(safe_open__in_root(root_fd, "hard", &o, NULL), -EMLINK);
		ASSERT_EQ(safe_open__in_root(root_fd, "inside.txt", &o, NULL), -EMLINK);
		ASSERT_EQ(safe_open__in_root(root_fd, "d/e/deep.txt", &o, NULL) >= 0, 1);
		o.flags = modes[m];

		o.owner = SAFE_OPEN_OWNER_UID;
		o.uid = st.st_uid + 1;
		ASSERT_EQ(safe_open__in_root(root_fd, "inside.txt", &o, NULL), -EPERM);
		o.uid = st.st_uid;
		fd = safe_open__in_root(root_fd, "inside.txt", &o, NULL);
		ASSERT_TRUE(fd >= 0);
		close(fd);
		/* root's file passes UID_OR_ROOT for any uid, another user's does not */
		o.owner = SAFE_OPEN_OWNER_UID_OR_ROOT;
		o.uid = st.st_uid + 1;
		fd = safe_open__in_root(root_fd, "inside.txt", &o, NULL);
		ASSERT_TRUE(st.st_uid == 0 ? fd >= 0 : fd == -EPERM);
		if (fd >= 0)
			close(fd);
		o.owner = SAFE_OPEN_OWNER_ANY;

		o.max_size = 6;
		ASSERT_EQ(safe_open__in_root(root_fd, "inside.txt", &o, NULL), -EFBIG);
		o.max_size = 7;
		fd = safe_open__in_root(root_fd, "inside.txt", &o, NULL);
		ASSERT_TRUE(fd >= 0);
		close(fd);
	}
	return 0;
}

TEST(magic_links_are_not_followed)
{
	int pipefd[2], slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char p[64];

	ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", pipefd[0]);
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .flags = modes[m] };
		int fd = safe_open__in_root(slash, p, &o, NULL);

		ASSERT_TRUE(fd == -ELOOP || fd == -ENOENT);
	}
	close(pipefd[0]);
	close(pipefd[1]);
	close(slash);
	return 0;
}

struct swapper {
	char path[8400], file[8400], fifo[8400], tmp[8400];
	volatile bool stop;
	unsigned long swaps;
};

/* path is the regular file, then a FIFO, then the file again, as fast as rename() goes */
static void *swap_loop(void *arg)
{
	struct swapper *s = arg;

	while (!s->stop) {
		const char *from = s->swaps++ % 2 ? s->file : s->fifo;

		unlink(s->tmp);
		if (link(from, s->tmp) == 0)
			(void)rename(s->tmp, s->path);
	}
	return NULL;
}

TEST(a_file_swapped_for_a_fifo_while_it_is_opened)
{
	struct swapper s = { .stop = false };
	struct stat st;
	pthread_t t;

	path_in(s.path, sizeof(s.path), root, "race");
	path_in(s.file, sizeof(s.file), base, "race.file");
	path_in(s.fifo, sizeof(s.fifo), root, "race.fifo");
	path_in(s.tmp, sizeof(s.tmp), root, "race.tmp");
	ASSERT_EQ(write_file(base, "race.file", "regular\n"), 0);
	ASSERT_EQ(mkfifo(s.fifo, 0600), 0);
	ASSERT_EQ(stat(s.file, &st), 0);
	ASSERT_EQ(link(s.file, s.path), 0);
	ASSERT_EQ(pthread_create(&t, NULL, swap_loop, &s), 0);
	for (size_t m = 0; m < 2; m++) {
		struct safe_open_opts o = { .ino = st.st_ino, .flags = modes[m] };
		unsigned long opened = 0, refused = 0;

		for (int i = 0; i < 20000; i++) {
			struct stat got;
			int fd = safe_open__in_root(root_fd, "race", &o, &got);

			if (fd >= 0) {
				opened++;
				ASSERT_TRUE(S_ISREG(got.st_mode) && got.st_ino == st.st_ino);
				close(fd);
			} else {
				refused++;
				ASSERT_TRUE(fd == -EBADFD || fd == -ENOENT || fd == -ESTALE);
			}
		}
		fprintf(stderr, "  %s: %lu opened, %lu refused\n", m ? "walk" : "openat2", opened,
			refused);
		ASSERT_TRUE(opened > 0 && refused > 0);
	}
	s.stop = true;
	pthread_join(t, NULL);
	ASSERT_TRUE(s.swaps > 100);
	return 0;
}

TEST(mappings)
{
	char p[8400];
	struct stat st;
	size_t len = 8192;
	int fd, pid_dir = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	void *map;

	ASSERT_TRUE(pid_dir >= 0);
	path_in(p, sizeof(p), base, "mapped");
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0 && ftruncate(fd, (off_t)len) == 0 && fstat(fd, &st) == 0);
	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	ASSERT_TRUE(map != MAP_FAILED);
	for (unsigned via_path = 0; via_path < 2; via_path++) {
		struct safe_open_opts o = { .ino = st.st_ino,
					    .flags = via_path ? SAFE_OPEN_NO_MAP_FILES : 0 };
		struct stat got;

		fd = safe_open__mapping(pid_dir, (__u64)(uintptr_t)map, (__u64)(uintptr_t)map + len, p,
					&o, &got);
		ASSERT_TRUE(fd >= 0);
		ASSERT_UEQ(got.st_ino, st.st_ino);
		close(fd);
	}
	/* the path now names a FIFO: by path it is refused without blocking */
	ASSERT_EQ(unlink(p), 0);
	ASSERT_EQ(mkfifo(p, 0600), 0);
	{
		struct safe_open_opts o = { .ino = st.st_ino, .flags = SAFE_OPEN_NO_MAP_FILES };

		ASSERT_EQ(safe_open__mapping(pid_dir, (__u64)(uintptr_t)map,
					     (__u64)(uintptr_t)map + len, p, &o, NULL), -EBADFD);
		/* through map_files, where the kernel lets us, still the mapped (deleted) file */
		o.flags = 0;
		fd = safe_open__mapping(pid_dir, (__u64)(uintptr_t)map, (__u64)(uintptr_t)map + len,
					p, &o, NULL);
		ASSERT_TRUE(fd >= 0 || fd == -EBADFD);
		if (fd >= 0)
			close(fd);
	}
	munmap(map, len);
	close(pid_dir);
	return 0;
}

TEST(debuglink_names)
{
	char long_name[300];

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ASSERT_TRUE(safe_open__is_component("libc.so.6.debug"));
	ASSERT_TRUE(safe_open__is_component("..debug"));
	ASSERT_TRUE(!safe_open__is_component(""));
	ASSERT_TRUE(!safe_open__is_component(NULL));
	ASSERT_TRUE(!safe_open__is_component("."));
	ASSERT_TRUE(!safe_open__is_component(".."));
	ASSERT_TRUE(!safe_open__is_component("../../etc/shadow"));
	ASSERT_TRUE(!safe_open__is_component("/etc/shadow"));
	ASSERT_TRUE(!safe_open__is_component("a/b"));
	ASSERT_TRUE(!safe_open__is_component(long_name));
	long_name[255] = '\0';
	ASSERT_TRUE(safe_open__is_component(long_name));
	return 0;
}

TEST(bounded_reads)
{
	char big[2048], out[4096], *buf = NULL;
	size_t len = 0;
	int fd;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ASSERT_EQ(write_file(root, "big", big), 0);
	fd = safe_open__in_root(root_fd, "big", NULL, NULL);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(read_fd_all(fd, 1000, (void **)&buf, &len), -EFBIG);
	ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
	ASSERT_EQ(read_fd_all(fd, 2047, (void **)&buf, &len), 0);
	ASSERT_EQ(len, 2047);
	ASSERT_EQ(buf[len], '\0');
	free(buf);
	ASSERT_EQ(pread_all(fd, out, 47, 2000), 0);
	ASSERT_EQ(pread_all(fd, out, 48, 2000), -EIO);
	close(fd);
	return 0;
}

static void cleanup(void)
{
	char cmd[sizeof(base) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
}

int main(void)
{
	/* a blocking open would hang here: the alarm turns it into a failure */
	alarm(120);
	if (setup() != 0) {
		perror("setup");
		return 1;
	}
	RUN(plain_paths);
	RUN(absolute_symlinks_stay_in_the_root);
	RUN(relative_symlinks_and_dotdot_stop_at_the_root);
	RUN(symlink_loops_and_chains);
	RUN(no_follow_refuses_a_symlink_as_the_last_component);
	RUN(fifos_and_devices_are_never_opened);
	RUN(a_terminal_never_becomes_the_controlling_one);
	RUN(checks_on_the_file);
	RUN(magic_links_are_not_followed);
	RUN(a_file_swapped_for_a_fifo_while_it_is_opened);
	RUN(mappings);
	RUN(debuglink_names);
	RUN(bounded_reads);
	close(root_fd);
	cleanup();
	return test_summary();
}
