// SPDX-License-Identifier: Apache-2.0
/*
 * Writes the man page (fornax.1) and the bash completion of fornax from the
 * option table the command line is parsed with, at build time, so neither
 * can list a flag the program does not take or miss one it does.
 *
 *   fornax_docgen man VERSION > fornax.1
 *   fornax_docgen bash > fornax.bash
 */
#include "config_impl.h"

#include <stdio.h>
#include <string.h>

/* The values an option takes from a fixed set, for completion and the man page. */
static const char *choices(const struct option_spec *spec)
{
	static const struct {
		const char *name, *words;
	} sets[] = {
		{ "format", "pprof folded svg" },
		{ "unwind", "auto dwarf fp" },
		{ "top-by", "function comm" },
		{ "python", "auto off" },
	};

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (strcmp(spec->name, sets[i].name) == 0)
			return sets[i].words;
	return NULL;
}

/* Options whose value is a file or a directory: completed from the file system. */
static bool takes_path(const struct option_spec *spec)
{
	return spec->metavar &&
	       (strcmp(spec->metavar, "PATH") == 0 || strcmp(spec->metavar, "DIR") == 0);
}

/* troff: a backslash doubled, every '-' a minus, and no line may start with '.' or '\''. */
static void roff(const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", stdout);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
	}
}

static void man_option(const struct option_spec *spec, bool convert)
{
	const char *help = convert && config_convert_help(spec) ? config_convert_help(spec)
								: spec->help;
	char env[64];

	puts(".TP");
	if (spec->short_name)
		printf("\\fB\\-%c\\fR, ", spec->short_name);
	printf("\\fB\\-\\-");
	roff(spec->name);
	printf("\\fR");
	if (spec->metavar) {
		printf(" \\fI");
		roff(spec->metavar);
		printf("\\fR");
	}
	printf("\n");
	roff(help);
	printf("\n");
	if (!(spec->flags & OPT_NO_ENV)) {
		config_env_name(spec, env, sizeof(env));
		printf(".br\nEnvironment: \\fB");
		roff(env);
		printf("\\fR.\n");
	}
}

static int man(const char *version)
{
	printf(".TH FORNAX 1 \"\" \"fornax %s\" \"User Commands\"\n", version);
	puts(".SH NAME\nfornax \\- always\\-on eBPF CPU profiler");
	puts(".SH SYNOPSIS\n.B fornax\n[\\fIOPTIONS\\fR]\n.br\n.B fornax convert\n"
	     "\\fIPROFILE\\fR [\\fB\\-o\\fR \\fIFILE\\fR]... [\\fIOPTIONS\\fR]");
	puts(".SH DESCRIPTION\n"
	     "fornax samples every CPU with a BPF program, symbolizes the stacks on the host, and "
	     "writes pprof, folded\\-stack or flame graph (SVG) profiles.\n"
	     "With \\fB\\-\\-duration\\fR it captures once and writes the files named by "
	     "\\fB\\-o\\fR; without, it writes one profile per interval into a directory until "
	     "SIGINT or SIGTERM.\n"
	     ".PP\n"
	     "\\fBfornax convert\\fR renders a pprof profile read from a file (or standard input, "
	     "\\fB\\-\\fR) as a flame graph, folded stacks or pprof; it needs no privileges.\n"
	     ".PP\n"
	     "Every option has an environment twin, \\fBFORNAX_\\fR and the option's name in "
	     "capitals with dashes as underscores; the command line wins.");
	puts(".SH OPTIONS");
	for (size_t i = 0; i < config_n_options; i++)
		if (!(config_options[i].flags & OPT_CONVERT_ONLY))
			man_option(&config_options[i], false);
	puts(".SH CONVERT OPTIONS");
	for (size_t i = 0; i < config_n_options; i++)
		if (config_options[i].flags & OPT_CONVERT)
			man_option(&config_options[i], true);
	puts(".SH EXIT STATUS\n"
	     "0 after a clean run (SIGINT or SIGTERM included in continuous mode); 1 when the run "
	     "failed (BPF could not load, a profile could not be written, every \\fB\\-\\-pid\\fR "
	     "process exited before it was sampled); 2 for bad usage.");
	puts(".SH EXAMPLES\n.nf\n"
	     "sudo fornax \\-d 30s \\-o flame.svg \\-o profile.pb.gz\n"
	     "sudo fornax \\-d 10s \\-o \\- \\-\\-format folded | flamegraph.pl > flame.svg\n"
	     "sudo fornax \\-o /var/lib/fornax/profiles\n"
	     "fornax convert cpu.pb.gz \\-o flame.svg \\-\\-top 20\n.fi");
	puts(".SH SEE ALSO\n"
	     "\\fBperf\\fR(1), \\fBbpftrace\\fR(8); /usr/local/share/doc/fornax/usage.md");
	return 0;
}

static void words(bool convert)
{
	for (size_t i = 0; i < config_n_options; i++) {
		const struct option_spec *spec = &config_options[i];

		if (convert ? !(spec->flags & OPT_CONVERT) : (spec->flags & OPT_CONVERT_ONLY))
			continue;
		if (spec->short_name)
			printf(" -%c", spec->short_name);
		printf(" --%s", spec->name);
	}
}

static int bash(void)
{
	puts("# bash completion for fornax, generated from its option table\n"
	     "_fornax()\n{\n"
	     "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	     "\tCOMPREPLY=()\n"
	     "\tcase $prev in");
	for (size_t i = 0; i < config_n_options; i++) {
		const struct option_spec *spec = &config_options[i];
		const char *set = choices(spec);

		if (spec->kind != OPT_VALUE)
			continue;
		if (spec->short_name)
			printf("\t-%c|--%s)\n", spec->short_name, spec->name);
		else
			printf("\t--%s)\n", spec->name);
		if (set)
			printf("\t\tCOMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n", set);
		else if (takes_path(spec))
			printf("\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n");
		printf("\t\treturn;;\n");
	}
	puts("\tesac\n"
	     "\tif [[ ${COMP_WORDS[1]} == convert ]]; then");
	printf("\t\tif [[ $cur == -* ]]; then\n\t\t\tCOMPREPLY=($(compgen -W '");
	words(true);
	puts("' -- \"$cur\"))\n\t\telse\n\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\tfi\n"
	     "\t\treturn\n\tfi");
	printf("\tCOMPREPLY=($(compgen -W '");
	words(false);
	printf("%s' -- \"$cur\"))\n", " convert");
	puts("}\ncomplete -F _fornax fornax");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "man") == 0)
		return man(argv[2]);
	if (argc == 2 && strcmp(argv[1], "bash") == 0)
		return bash();
	fprintf(stderr, "usage: fornax_docgen man VERSION | bash\n");
	return 2;
}
