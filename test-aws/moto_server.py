"""A moto server for the tests, on 127.0.0.1 and a free port.

Prints `listening <port>` once it serves, and stops when its standard input
closes, so it never outlives the test run that started it.

SageMaker endpoints, as the handler and the tests rely on them:
  - DescribeEndpoint shows each production variant's VariantName,
    CurrentWeight / DesiredWeight and CurrentInstanceCount /
    DesiredInstanceCount, a weight or count of 0 as 0 (moto drops them);
    CreateEndpoint and UpdateEndpoint take them from the config's
    InitialVariantWeight (unset: 1.0, as SageMaker) and InitialInstanceCount.
  - UpdateEndpoint (moto has none): the endpoint and the endpoint config must
    exist (ValidationException); records the DeploymentConfig as
    LastDeploymentConfig.
  - UpdateEndpointWeightsAndCapacities (moto's erased the fields a call left
    out and never refused): ValidationException for a missing endpoint or an
    unknown or repeated variant name; sets only the DesiredWeight /
    DesiredInstanceCount each entry gives, leaving unlisted variants alone.
  - Either update is refused with a ValidationException "Cannot update
    in-progress endpoint" unless the endpoint is InService, as SageMaker
    answers. It completes at once (real SageMaker takes minutes) unless a test
    sets a delay with POST /_mlops/sagemaker/update-delay {"seconds"}: for
    that long the endpoint is Updating, and then InService. While a weights
    update waits, Desired* are the new values and Current* the old; while an
    UpdateEndpoint waits, EndpointConfigName and the variants stay the old
    config's (the old fleet serves until the switch).
  - InvokeEndpoint (sagemaker-runtime; moto answers a canned body whatever
    the weights) routes without TargetVariant to a variant picked at random
    in proportion to CurrentWeight, so a weight-0 variant gets nothing and an
    endpoint whose weights are all 0 is refused (ValidationError, the
    runtime's error code); with TargetVariant, to that variant whatever its
    weight (see _invoke_endpoint for why 0 included); an unknown one is a
    ValidationError. It answers while the endpoint is Updating, by the
    Current* weights, as SageMaker serves during an update. The answer names
    the variant in the x-Amzn-Invoked-Production-Variant header and as the
    body {"variant", "model"}, the model being the variant's ModelName.

moto's CodeBuild StartBuild answers timestamps as ISO strings where the
AWS JSON protocol has epoch seconds (the AWS SDK v3 rejects them), and
ignores `idempotencyToken` and `environmentVariablesOverride`; this wrapper
answers epoch seconds (BatchGetBuilds too), returns the first build again for
a repeated token, as CodeBuild does, and keeps the override on the build.

moto's DynamoDB checks a ConditionExpression and then writes, with no lock
between, so under this threaded server two racing conditional writes can
both succeed; DynamoDB makes each conditional write atomic, and the
handler's dedupe and cooldown claims rely on that. This wrapper serializes
DynamoDB's item writes.

A test may set an endpoint's status (e.g. Updating) through
POST /_mlops/sagemaker/endpoint-status {"region", "name", "status"}, and
read every UpdateEndpoint that SageMaker accepted, in order, from
GET /_mlops/sagemaker/update-endpoint-calls as {"name", "config"}, and every
accepted UpdateEndpointWeightsAndCapacities from
GET /_mlops/sagemaker/weights-calls as {"name", "variants"} (the
DesiredWeightsAndCapacities as sent): counts no handler report can fake.
Refused updates are in neither. POST /moto-api/reset empties both, forgets
updates still waiting, and sets the update delay back to 0.
GET /_mlops/calls lists every AWS call the server received since the last
reset, in order, as {"service", "operation"}: the service from the request's
SigV4 credential scope, the operation from X-Amz-Target (JSON protocols) or
the form's Action (query protocol), else the method and path (REST).

SNS Publish refuses a Subject as SNS does ("UTF-8 text with no line breaks
or control characters, and less than 100 characters long"; moto takes any
subject of up to 100 characters): InvalidParameter, nothing published.

Faults, for the notice tests (each cleared by a reset):
  - POST /_mlops/faults {"service", "operation", "times", "code", "message",
    "status"?}: the next `times` calls of that operation (-1: every call)
    fail with that error code and message (HTTP 400 unless `status`), in the
    request's protocol, and never reach moto.
  - POST /_mlops/hold {"service", "operation", "contains"?}: the next call of
    that operation (whose body contains `contains`, if given) is carried out
    by moto, and its answer held back until POST /_mlops/release: the caller
    is stuck right after the call took effect, for a test to kill it there.
    GET /_mlops/held says whether one is held: {"held": [{"service",
    "operation"}]}. A reset releases it.
"""

import copy
import io
from xml.sax.saxutils import escape
import json
import random
import re
import sys
import threading
from datetime import datetime
from urllib.parse import unquote

from moto.codebuild.responses import CodeBuildResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.responses import SNSResponse
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ACCOUNT = "123456789012"

# One lock for every SageMaker endpoint's status and variants: requests run on
# the server's threads and the end of a delayed update on a timer's.
_sagemaker_lock = threading.RLock()
_update_endpoint_calls = []
_weights_calls = []
_update_delay = {"seconds": 0.0}
# The update each endpoint is waiting to finish, by id(endpoint): (endpoint, token).
# Holding the endpoint keeps its id from being reused; a reset empties this, so
# the timers of a forgotten endpoint find nothing to finish.
_pending_updates = {}


def _variants_from_config(self, production_variants):
    """An endpoint's variants as its config starts them, Current* = Desired* = Initial*.

    moto's own version tests the config's values for truth, so a weight or a
    count of 0 vanished from DescribeEndpoint; SageMaker shows 0, and defaults
    an unset InitialVariantWeight to 1.0.
    """
    variants = []
    for config_variant in production_variants:
        variant = {"VariantName": config_variant["VariantName"]}
        weight = config_variant.get("InitialVariantWeight")
        variant["CurrentWeight"] = variant["DesiredWeight"] = 1.0 if weight is None else weight
        count = config_variant.get("InitialInstanceCount")
        if count is not None:
            variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = count
        if config_variant.get("ServerlessConfig") is not None:
            variant["CurrentServerlessConfig"] = variant["DesiredServerlessConfig"] = config_variant["ServerlessConfig"]
        variants.append(variant)
    return variants


FakeEndpoint._process_production_variants = _variants_from_config


def _refuse_unless_in_service(endpoint):
    if endpoint.endpoint_status != "InService":
        raise ValidationError(message=f"Cannot update in-progress endpoint \"{endpoint.arn}\".")


def _finish_update(endpoint, finish):
    """Runs `finish` (the update's effect on the endpoint) now, or after the
    update delay with the endpoint Updating until then."""
    seconds = _update_delay["seconds"]
    if seconds <= 0:
        finish()
        return
    token = object()
    endpoint.endpoint_status = "Updating"
    _pending_updates[id(endpoint)] = (endpoint, token)

    def complete():
        with _sagemaker_lock:
            pending = _pending_updates.get(id(endpoint))
            if pending is None or pending[1] is not token:
                return
            del _pending_updates[id(endpoint)]
            finish()
            endpoint.endpoint_status = "InService"
            endpoint.last_modified_time = utcnow()

    timer = threading.Timer(seconds, complete)
    timer.daemon = True
    timer.start()


def _update_endpoint(self):
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    with _sagemaker_lock:
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint '{name}'.")
        _refuse_unless_in_service(endpoint)
        config = backend.endpoint_configs.get(config_name)
        if config is None:
            raise ValidationError(message=f"Could not find endpoint configuration '{config_name}'.")
        endpoint.last_deployment_config = self._get_param("DeploymentConfig")
        endpoint.last_modified_time = utcnow()
        _update_endpoint_calls.append({"name": name, "config": config_name})

        def switch_config():
            endpoint.endpoint_config_name = config_name
            endpoint.production_variants = endpoint._process_production_variants(config.production_variants)

        _finish_update(endpoint, switch_config)
        return ActionResult({"EndpointArn": endpoint.arn})


SageMakerResponse.update_endpoint = _update_endpoint


def _update_endpoint_weights_and_capacities(self):
    """moto's version sets Current* = Desired* = the value sent, so a field
    left out became null (a weights-only call erased the instance counts),
    and never refuses a busy endpoint."""
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    desired = self._get_param("DesiredWeightsAndCapacities") or []
    with _sagemaker_lock:
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint \"{FakeEndpoint.arn_formatter(name, self.current_account, self.region)}\".")
        _refuse_unless_in_service(endpoint)
        variants = {variant["VariantName"]: variant for variant in endpoint.production_variants}
        seen = set()
        for entry in desired:
            variant_name = entry.get("VariantName")
            if variant_name in seen:
                raise ValidationError(message=f"The variant name \"{variant_name}\" was non-unique within the request.")
            if variant_name not in variants:
                raise ValidationError(
                    message=f"The variant name(s) \"{variant_name}\" is/are not present within endpoint configuration \"{endpoint.endpoint_config_name}\"."
                )
            seen.add(variant_name)
        for entry in desired:
            variant = variants[entry["VariantName"]]
            if entry.get("DesiredWeight") is not None:
                variant["DesiredWeight"] = entry["DesiredWeight"]
            if entry.get("DesiredInstanceCount") is not None:
                variant["DesiredInstanceCount"] = entry["DesiredInstanceCount"]
        endpoint.last_modified_time = utcnow()
        _weights_calls.append({"name": name, "variants": copy.deepcopy(desired)})

        def reach_desired():
            for variant in endpoint.production_variants:
                if "DesiredWeight" in variant:
                    variant["CurrentWeight"] = variant["DesiredWeight"]
                if "DesiredInstanceCount" in variant:
                    variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"]

        _finish_update(endpoint, reach_desired)
        return ActionResult({"EndpointArn": endpoint.arn})


SageMakerResponse.update_endpoint_weights_and_capacities = _update_endpoint_weights_and_capacities

_moto_describe_endpoint = SageMakerResponse.describe_endpoint


def _describe_endpoint(self):
    # A copy taken under the lock: the response is serialized after this
    # returns, and a delayed update may finish on its timer meanwhile.
    with _sagemaker_lock:
        return ActionResult(copy.deepcopy(_moto_describe_endpoint(self).result))


SageMakerResponse.describe_endpoint = _describe_endpoint


def _invoke_endpoint(self):
    """Routes by CurrentWeight (or to TargetVariant) and says which variant served.

    moto answers a canned body whatever the endpoint's weights. This answers
    {"variant", "model"} with the x-Amzn-Invoked-Production-Variant header.
    TargetVariant reaches its variant whatever its weight, weight 0 included,
    following the InvokeEndpoint reference: TargetVariant "overrides the
    default behavior for the endpoint, which is to distribute the invocation
    traffic based on the variant weights". That this makes a weight-0 variant
    reachable is our inference from that sentence; AWS does not state it.
    The refusals' messages are ours; the error code is the runtime's.
    """
    name = unquote(self.path.split("/")[2])
    target = self.headers.get("X-Amzn-SageMaker-Target-Variant")
    backend = sagemaker_backends[self.current_account][self.region]
    with _sagemaker_lock:
        endpoint = backend.endpoints.get(name)
        if endpoint is None:
            raise JsonRESTError("ValidationError", f"Endpoint {name} of account {self.current_account} not found.")
        weights = {variant["VariantName"]: variant.get("CurrentWeight", 0) for variant in endpoint.production_variants}
        config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    if target is not None:
        if target not in weights:
            raise JsonRESTError("ValidationError", f"Invalid target variant: {target} is not a variant of endpoint {name}.")
        served = target
    else:
        routable = [(variant, weight) for variant, weight in weights.items() if weight > 0]
        if not routable:
            raise JsonRESTError("ValidationError", f"Endpoint {name} has no production variant with a weight above 0 to route to.")
        served = random.choices([variant for variant, _ in routable], weights=[weight for _, weight in routable])[0]
    models = {variant["VariantName"]: variant.get("ModelName") for variant in (config.production_variants if config else [])}
    body = json.dumps({"variant": served, "model": models.get(served)})
    return 200, {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": served}, body


SageMakerRuntimeResponse.invoke_endpoint = _invoke_endpoint

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
    # moto drops environmentVariablesOverride; keep it on the build, as BatchGetBuilds shows it.
    build_id = json.loads(answer)["build"]["id"]
    for build in self.codebuild_backend.build_metadata_history[self._get_param("projectName")]:
        if build["id"] == build_id:
            build["environment"] = {**build["environment"], "environmentVariables": self._get_param("environmentVariablesOverride") or []}
    if token:
        _builds_by_token[key] = answer
    return answer


CodeBuildResponse.start_build = _start_build
_moto_batch_get_builds = CodeBuildResponse.batch_get_builds
CodeBuildResponse.batch_get_builds = lambda self: json.dumps(_epoch_timestamps(json.loads(_moto_batch_get_builds(self))))

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
    """Appends the request's service and operation to _calls and returns them; leaves the body readable for moto."""
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target is not None:
        operation = target.rsplit(".", 1)[-1]
    else:
        body = Request(environ).get_data(cache=False)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        action = re.search(r"(?:^|&)Action=([A-Za-z]+)", body.decode("utf-8", "replace") + "&" + environ.get("QUERY_STRING", ""))
        operation = action.group(1) if action else f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
    call = {"service": scope.group(1), "operation": operation}
    with _calls_lock:
        _calls.append(call)
    return call


_SNS_SUBJECT_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_moto_publish = SNSResponse.publish


def _publish(self):
    """moto checks only a subject's length (up to 100); SNS also refuses line
    breaks and control characters, and 100 itself ("less than 100")."""
    subject = self._get_param("Subject")
    if subject is not None and (subject == "" or len(subject) >= 100 or _SNS_SUBJECT_FORBIDDEN.search(subject)):
        raise SNSInvalidParameter("Invalid parameter: Subject")
    return _moto_publish(self)


SNSResponse.publish = _publish

# Faults and holds, by (service, operation); a lock for each list.
_faults = []
_holds = []
_faults_lock = threading.Lock()


def _request_body(environ):
    """The request's body, left readable for moto."""
    body = Request(environ).get_data(cache=False)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body.decode("utf-8", "replace")


def _take_fault(call):
    with _faults_lock:
        for fault in _faults:
            if fault["service"] == call["service"] and fault["operation"] == call["operation"] and fault["times"] != 0:
                fault["times"] -= 1
                return fault
    return None


def _error_response(environ, fault):
    """The error in the request's protocol: JSON for X-Amz-Target requests, the query protocol's XML otherwise."""
    status = int(fault.get("status", 400))
    if environ.get("HTTP_X_AMZ_TARGET") is not None:
        body = json.dumps({"__type": fault["code"], "message": fault["message"]})
        return Response(body, status=status, content_type="application/x-amz-json-1.1", headers={"x-amzn-ErrorType": fault["code"]})
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{escape(fault['code'])}</Code><Message>{escape(fault['message'])}</Message>"
        "</Error><RequestId>mlops-fault</RequestId></ErrorResponse>"
    )
    return Response(body, status=status, content_type="text/xml")


def _take_hold(call, environ):
    with _faults_lock:
        for hold in _holds:
            if hold["held"] or hold["service"] != call["service"] or hold["operation"] != call["operation"]:
                continue
            if hold.get("contains") and hold["contains"] not in _request_body(environ):
                continue
            hold["held"] = True
            return hold
    return None


def _held_answer(moto_app, environ, start_response, hold):
    """Lets moto carry the call out, then keeps its answer until the hold is released."""
    captured = {}

    def capture(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    body = b"".join(moto_app(environ, capture))
    hold["release"].wait()
    start_response(captured["status"], captured["headers"])
    return [body]


def control_app(moto_app):
    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/_mlops/faults":
            fault = json.loads(Request(environ).get_data(as_text=True))
            with _faults_lock:
                _faults.append(fault)
            return Response("ok")(environ, start_response)
        if environ.get("PATH_INFO") == "/_mlops/hold":
            hold = json.loads(Request(environ).get_data(as_text=True))
            with _faults_lock:
                _holds.append({**hold, "held": False, "release": threading.Event()})
            return Response("ok")(environ, start_response)
        if environ.get("PATH_INFO") == "/_mlops/held":
            with _faults_lock:
                held = [{"service": hold["service"], "operation": hold["operation"]} for hold in _holds if hold["held"]]
            return Response(json.dumps({"held": held}), content_type="application/json")(environ, start_response)
        if environ.get("PATH_INFO") in ("/_mlops/release", "/moto-api/reset"):
            with _faults_lock:
                for hold in _holds:
                    hold["release"].set()
                _holds.clear()
                if environ.get("PATH_INFO") == "/moto-api/reset":
                    _faults.clear()
            if environ.get("PATH_INFO") == "/_mlops/release":
                return Response("ok")(environ, start_response)
        if environ.get("PATH_INFO") == "/moto-api/reset":
            _builds_by_token.clear()
            with _sagemaker_lock:
                _update_endpoint_calls.clear()
                _weights_calls.clear()
                _pending_updates.clear()
                _update_delay["seconds"] = 0.0
            with _calls_lock:
                _calls.clear()
        if environ.get("PATH_INFO") == "/_mlops/calls":
            with _calls_lock:
                return Response(json.dumps(_calls), content_type="application/json")(environ, start_response)
        if environ.get("PATH_INFO") == "/_mlops/sagemaker/update-endpoint-calls":
            with _sagemaker_lock:
                return Response(json.dumps(_update_endpoint_calls), content_type="application/json")(environ, start_response)
        if environ.get("PATH_INFO") == "/_mlops/sagemaker/weights-calls":
            with _sagemaker_lock:
                return Response(json.dumps(_weights_calls), content_type="application/json")(environ, start_response)
        if environ.get("PATH_INFO") == "/_mlops/sagemaker/endpoint-status":
            body = json.loads(Request(environ).get_data(as_text=True))
            with _sagemaker_lock:
                endpoint = sagemaker_backends[ACCOUNT][body["region"]].endpoints[body["name"]]
                endpoint.endpoint_status = body["status"]
            return Response("ok")(environ, start_response)
        if environ.get("PATH_INFO") == "/_mlops/sagemaker/update-delay":
            seconds = float(json.loads(Request(environ).get_data(as_text=True))["seconds"])
            with _sagemaker_lock:
                _update_delay["seconds"] = seconds
            return Response("ok")(environ, start_response)
        call = _record_call(environ)
        if call is not None:
            fault = _take_fault(call)
            if fault is not None:
                return _error_response(environ, fault)(environ, start_response)
            hold = _take_hold(call, environ)
            if hold is not None:
                return _held_answer(moto_app, environ, start_response, hold)
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
