"""What the lab's Kubernetes API and pods support, as ``meshgrade lab --help`` says it."""

KUBECTL = """\
what works with kubectl (KUBECONFIG from `lab up`):
  get, describe, wait, rollout status|restart|history|undo, events, api-resources, --watch
  apply (client- and server-side), create, delete (-f, --all, namespaces), edit, label,
  annotate, patch (strategic, merge, json), scale, run, expose, create deployment|namespace|
  configmap|secret|serviceaccount|service: Deployments, Pods, Services, ServiceAccounts,
  ConfigMaps, Secrets, Namespaces, CRDs and the routing kinds (VirtualService, DestinationRule,
  Gateway, ServiceEntry, Sidecar, Gateway API Gateway and HTTPRoute)
  Deployments make ReplicaSets and pods (one node: at most 110 run, the rest stay Pending);
  a deleted pod is replaced; a pod gets a sidecar when its namespace has istio-injection=enabled
  (or istio.io/rev) at its creation: without one (1/1) its calls skip the mesh's rules
  exec (-i, -t): sh (pipes, &&, ||, for, while, if, $(...), redirections) with curl, cat, echo,
    printf, env, printenv, hostname, grep, head, tail, wc, sort, uniq, cut, tr, sed s///,
    seq, sleep, date, test, ls; requests leave through the pod's sidecar; other commands
    are "not found" (exit 127), as in a pod without them
  logs (-c, -f, --tail, --since, --timestamps, -l): an app's access lines; istio-proxy: the
    requests Envoy handled for the pod (Istio's format, response flags)
  port-forward to pods and Services; get --raw .../services/NAME:PORT/proxy/...
  INGRESS_HOST/INGRESS_PORT from the ingress Service (load-balancer IP and http2 port, or
  the pod's hostIP and the nodePort) give $GATEWAY_URL
not supported (the error names the lab): attach, cp, debug, top, auth can-i, Jobs, CronJobs,
  StatefulSets, DaemonSets, Ingresses; RBAC and other kinds are not served; istioctl"""
