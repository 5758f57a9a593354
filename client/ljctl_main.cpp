#include "client/ljctl.hpp"

int main(int argc, char** argv) {
  return lj::ljctl::main(argc, argv);
}
