#!/bin/sh
# Printed when a reachability round fails (tasks/reach.yml): this host's view of Docker network $1.
net=$1
echo "== $(hostname) $(date +%T)"
ip -br addr
ip route
ip neigh
bridge fdb show | grep -v permanent
bridge link
iptables -w -vnL FORWARD | head -20
docker ps -a --format '{{.Names}} {{.Status}}'
docker network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.MacAddress}}; {{end}}' "$net"
systemctl --failed --no-legend
