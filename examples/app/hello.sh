#!/bin/sh
# Runs in a jail on app/hello: `ljspawn ... /app/hello.sh NAME`.
exec greet "${1:-lightjail}"
