// ljctl: the command-line client of ljd's API. Every command is one or a few API calls; see
// ljctl(1) (docs/man/ljctl.1) for the commands, their output and the exit codes.
#pragma once

namespace lj::ljctl {

// The whole program: parses argv, runs one command, returns the process's exit status: 0, a
// jail's own status (run, wait), 1 for a failed build, 125 for ljctl's or ljd's own failures.
// Writes output to stdout and one-line errors to stderr.
int main(int argc, char** argv);

}  // namespace lj::ljctl
