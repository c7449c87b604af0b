"""A moto server for the tests, on 127.0.0.1 and a free port.

Prints `listening <port>` once it serves, and stops when its standard input
closes, so it never outlives the test run that started it.

moto (5.2) has no SageMaker UpdateEndpoint; this adds it on moto's own
endpoint model, with the behaviour the handler relies on:
  - the endpoint and the endpoint config must exist (ValidationException);
  - an endpoint that is not InService cannot be updated
    ("Cannot update in-progress endpoint"), as SageMaker answers;
  - the update completes at once (real SageMaker takes minutes) and records
    the DeploymentConfig as LastDeploymentConfig.
moto's CodeBuild StartBuild answers timestamps as ISO strings where the
AWS JSON protocol has epoch seconds (the AWS SDK v3 rejects them), and
ignores `idempotencyToken`; this wrapper answers epoch seconds and returns
the first build again for a repeated token, as CodeBuild does.

moto's DynamoDB checks a ConditionExpression and then writes, with no lock
between, so under this threaded server two racing conditional writes can
both succeed; DynamoDB makes each conditional write atomic, and the
handler's dedupe and cooldown claims rely on that. This wrapper serializes
DynamoDB's item writes.

A test may set an endpoint's status (e.g. Updating) through
POST /_mlops/sagemaker/endpoint-status {"region", "name", "status"}, and
read every UpdateEndpoint that SageMaker accepted, in order, from
GET /_mlops/sagemaker/update-endpoint-calls: a count no handler report can fake.
GET /_mlops/calls lists every AWS call the server received since the last
reset, in order, as {"service", "operation"}: the service from the request's
SigV4 credential scope, the operation from X-Amz-Target (JSON protocols) or
the form's Action (query protocol), else the method and path (REST).
"""

import io
import json
import re
import sys
import threading
from datetime import datetime

from moto.codebuild.responses import CodeBuildResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ACCOUNT = "123456789012"
_update_endpoint_calls = []


def _update_endpoint(self):
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(message=f"Could not find endpoint '{name}'.")
    if endpoint.endpoint_status != "InService":
        raise ValidationError(message=f"Cannot update in-progress endpoint \"{endpoint.arn}\".")
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        raise ValidationError(message=f"Could not find endpoint configuration '{config_name}'.")
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.last_deployment_config = self._get_param("DeploymentConfig")
    endpoint.last_modified_time = utcnow()
    _update_endpoint_calls.append({"name": name, "config": config_name})
    return ActionResult({"EndpointArn": endpoint.arn})


SageMakerResponse.update_endpoint = _update_endpoint

_moto_start_build = CodeBuildResponse.start_build
_builds_by_token = {}


def _epoch_timestamps(value):
    if isinstance(value, dict):
        return {
            key: (datetime.fromisoformat(item.replace("Z", "+00:00")).timestamp() if key.endswith("Time") and isinstance(item, str) else _epoch_timestamps(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_epoch_timestamps(item) for item in value]
    return value


def _start_build(self):
    token = self._get_param("idempotencyToken")
    key = (self._get_param("projectName"), token)
    if token and key in _builds_by_token:
        return _builds_by_token[key]
    answer = json.dumps(_epoch_timestamps(json.loads(_moto_start_build(self))))
    if token:
        _builds_by_token[key] = answer
    return answer


CodeBuildResponse.start_build = _start_build

_dynamodb_write_lock = threading.RLock()


def _atomic(write):
    def locked(self, *args, **kwargs):
        with _dynamodb_write_lock:
            return write(self, *args, **kwargs)

    return locked


for _write in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(DynamoDBBackend, _write, _atomic(getattr(DynamoDBBackend, _write)))


_calls = []
_calls_lock = threading.Lock()


def _record_call(environ):
    """Appends the request's service and operation to _calls; leaves the body readable for moto."""
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target is not None:
        operation = target.rsplit(".", 1)[-1]
    else:
        body = Request(environ).get_data(cache=False)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        action = re.search(r"(?:^|&)Action=([A-Za-z]+)", body.decode("utf-8", "replace") + "&" + environ.get("QUERY_STRING", ""))
        operation = action.group(1) if action else f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
    with _calls_lock:
        _calls.append({"service": scope.group(1), "operation": operation})


def control_app(moto_app):
    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/moto-api/reset":
            _builds_by_token.clear()
            _update_endpoint_calls.clear()
            with _calls_lock:
                _calls.clear()
        if environ.get("PATH_INFO") == "/_mlops/calls":
            with _calls_lock:
                return Response(json.dumps(_calls), content_type="application/json")(environ, start_response)
        if environ.get("PATH_INFO") == "/_mlops/sagemaker/update-endpoint-calls":
            return Response(json.dumps(_update_endpoint_calls), content_type="application/json")(environ, start_response)
        if environ.get("PATH_INFO") == "/_mlops/sagemaker/endpoint-status":
            body = json.loads(Request(environ).get_data(as_text=True))
            endpoint = sagemaker_backends[ACCOUNT][body["region"]].endpoints[body["name"]]
            endpoint.endpoint_status = body["status"]
            return Response("ok")(environ, start_response)
        _record_call(environ)
        return moto_app(environ, start_response)

    return app


def main():
    server = make_server("127.0.0.1", 0, control_app(DomainDispatcherApplication(create_backend_app)), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening {server.server_address[1]}", flush=True)
    sys.stdin.read()  # returns when the parent closes our stdin or exits
    server.shutdown()


if __name__ == "__main__":
    main()
