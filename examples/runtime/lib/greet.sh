# The runtime's whole standard library.
greet_main() {
  name=${1:-world}
  echo "hello, $name (greet 1.2.0)"
}
