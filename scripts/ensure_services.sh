#!/usr/bin/env bash
# Check that the suite's servers answer on 127.0.0.1 and start a stopped one (make test runs this).
# Redis 7 (limits shared by gateway replicas, nothing kept on disk) and PostgreSQL 15 (issue 16).
set -euo pipefail

if ! redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1; then
	echo "ensure_services: Redis is not answering on 127.0.0.1:6379; starting it"
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
	for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1 && break; sleep 0.1; done
	redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null
fi

if ! pg_isready -q -h 127.0.0.1; then
	echo "ensure_services: PostgreSQL is not accepting connections on 127.0.0.1; starting it"
	pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
	for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 && break; sleep 0.1; done
	pg_isready -h 127.0.0.1
fi
