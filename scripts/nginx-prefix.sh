#!/usr/bin/env bash
# nginx-prefix.sh DIR: lay out a private nginx prefix in DIR that
# includes DIR/conf.d/*.conf (where baton
# writes), then start nginx there unless it already runs. Prints nothing.
set -euo pipefail
dir=$(mkdir -p "$1" && cd "$1" && pwd)
mkdir -p "$dir/conf.d" "$dir/tmp" "$dir/logs"
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/conf.d/*.conf;
}
CONF
if [ -f "$dir/nginx.pid" ] && kill -0 "$(cat "$dir/nginx.pid")" 2>/dev/null; then
  exit 0
fi
nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
