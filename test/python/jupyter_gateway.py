# jupyter_server's gateway kernel manager, pointed at an Owlet server, for nbclient and papermill.
#
# GatewayKernelManager makes its REST calls with the Authorization header GatewayClient holds, but its
# GatewayKernelClient opens the kernel's websocket without it (jupyter_server gateway/managers.py,
# GatewayKernelClient.start_channels; Airflow's papermill provider works around the same gap in its own
# PapermillGatewayKernelClient). Owlet's kernel websockets refuse a caller without a token (docs/jupyter.md), so
# the client here sends the header on the websocket too. docs/jupyter.md shows the same for users.
from threading import Thread

import websocket
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_core.utils import ensure_async
from jupyter_server.gateway.gateway_client import GatewayClient
from jupyter_server.gateway.managers import GatewayKernelClient, GatewayKernelManager
from jupyter_server.utils import url_path_join
from tornado.escape import url_escape
from traitlets import Type


def point_gateway_at(endpoint: str, token: str) -> None:
    """Points the process's GatewayClient at an Owlet server, authenticating with `token`."""
    gateway = GatewayClient.instance()
    gateway.url = endpoint
    gateway.ws_url = endpoint.replace('http', 'ws', 1)
    gateway.auth_token = token
    # Owlet answers a kernel start at once; a cell then waits for the session's Spark to be up.
    gateway.request_timeout = 120.0


class OwletGatewayKernelClient(GatewayKernelClient):
    async def start_channels(self, shell=True, iopub=True, stdin=True, hb=True, control=True):
        gateway = GatewayClient.instance()
        url = url_path_join(gateway.ws_url or '', gateway.kernels_endpoint, url_escape(self.kernel_id), 'channels')
        headers = gateway.load_connection_args().get('headers', {})
        self.channel_socket = websocket.create_connection(
            url, timeout=gateway.KERNEL_LAUNCH_TIMEOUT, enable_multithread=True, header=headers
        )
        await ensure_async(
            AsyncKernelClient.start_channels(self, shell=shell, iopub=iopub, stdin=stdin, hb=hb, control=control)
        )
        self.response_router = Thread(target=self._route_responses)
        self.response_router.start()


class OwletGatewayKernelManager(GatewayKernelManager):
    client_factory = Type(klass=OwletGatewayKernelClient)

    async def start_kernel(self, **kwargs):
        # GatewayKernelManager asks for `python3` unless the caller names the kernel again in the call; nbclient
        # gives the name when creating the manager.
        kwargs.setdefault('kernel_name', self.kernel_name)
        return await super().start_kernel(**kwargs)
