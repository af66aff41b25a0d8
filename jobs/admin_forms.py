"""The admin's forms for creating work: "New job" (built from the processor's ``Params``
schema) and "New batch" (files, lines or parameter rows). Both end in the same validation as
the API (jobs/validation.py through the services), so the admin cannot store a job the API
would refuse.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile

from jobcenter import uploads
from jobcenter.errors import JobCenterError, ValidationError
from jobs import services
from jobs.validation import validate_parameters
from processors.base import Processor
from processors.registry import job_types

UPLOAD_FIELDS = frozenset({"source", "file_path"})
"""Parameters that name an input file: the form offers an upload next to the text box
(saved with jobcenter/uploads.py and passed on as ``upload:<id>``)."""
FILE_SUFFIX = "__file"


def job_type_choices() -> list[tuple[str, str]]:
    return [
        (name, f"{name} — {processor.description}" if processor.description else name)
        for name, processor in job_types().items()
    ]


def _schema_field(name: str, spec: dict[str, Any], defs: dict[str, Any], required: bool) -> Any:
    """A Django form field for one property of a JSON schema (as pydantic writes it)."""
    options = [part for part in spec.get("anyOf", []) if part.get("type") != "null"]
    nullable = len(options) < len(spec.get("anyOf", []))
    base = dict(spec)
    if len(options) == 1:
        base = {**options[0], **{k: v for k, v in spec.items() if k != "anyOf"}}
    if "$ref" in base:
        base = {**defs.get(base["$ref"].rsplit("/", 1)[-1], {}), **base}
    default = spec.get("default")
    common: dict[str, Any] = {
        "label": spec.get("title") or name,
        "help_text": spec.get("description", ""),
        "required": required,
        "initial": default,
    }
    kind = base.get("type")
    if "enum" in base:
        choices = [(value, value) for value in base["enum"]]
        if not required:
            choices = [("", "(default)" if default is None else f"(default: {default})"), *choices]
        return forms.ChoiceField(choices=choices, **common)
    if kind == "boolean":
        if nullable:
            return forms.NullBooleanField(**{**common, "required": False})
        return forms.BooleanField(**{**common, "required": False})
    if kind == "integer":
        return forms.IntegerField(
            min_value=base.get("minimum"), max_value=base.get("maximum"), **common
        )
    if kind == "number":
        return forms.FloatField(
            min_value=base.get("minimum"), max_value=base.get("maximum"), **common
        )
    if kind == "string":
        return forms.CharField(
            max_length=base.get("maxLength"), strip=True, **{**common, "required": False}
        )
    # objects, arrays, unions: JSON text
    initial = json.dumps(default) if default is not None else ""
    return forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        **{
            **common,
            "required": False,
            "initial": initial,
            "help_text": (common["help_text"] + " (JSON)").strip(),
        },
    )


class NewJobForm(forms.Form):
    """``job_type`` chosen first (the page reloads with the type's fields), then one field per
    parameter of its ``Params`` model with its type, default, choices, help and required mark."""

    job_type = forms.ChoiceField(choices=job_type_choices)
    job_name = forms.CharField(required=False, max_length=255)
    priority = forms.IntegerField(initial=0, help_text="Higher runs first.")

    def __init__(self, *args: Any, job_type: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["job_type"].choices = job_type_choices()
        self.processor: type[Processor] | None = job_types().get(job_type or "")
        self.param_names: list[str] = []
        self.json_params: set[str] = set()
        if self.processor is None:
            return
        self.fields["job_type"].initial = job_type
        schema = self.processor.Params.model_json_schema()
        defs = schema.get("$defs", {})
        required = set(schema.get("required", []))
        for name, spec in schema.get("properties", {}).items():
            field = _schema_field(name, spec, defs, name in required)
            if isinstance(field.widget, forms.Textarea):
                self.json_params.add(name)
            if name in UPLOAD_FIELDS:
                field.required = False
                field.help_text = (field.help_text + " Or upload a file below.").strip()
                self.fields[f"p_{name}"] = field
                self.fields[f"p_{name}{FILE_SUFFIX}"] = forms.FileField(
                    required=False, label=f"{field.label}: upload a file"
                )
            else:
                self.fields[f"p_{name}"] = field
            if name in required:
                self.fields[f"p_{name}"].label = f"{self.fields[f'p_{name}'].label} *"
            self.param_names.append(name)

    def parameters(self, owner: AbstractBaseUser | None = None) -> dict[str, Any]:
        """The submitted parameters, empty fields left out so the model's defaults apply;
        an uploaded file is stored (as ``owner``'s) and referenced as ``upload:<id>``."""
        params: dict[str, Any] = {}
        for name in self.param_names:
            upload = self.cleaned_data.get(f"p_{name}{FILE_SUFFIX}")
            if isinstance(upload, UploadedFile):
                stored = services.add_upload(upload, upload.name or "upload", owner)
                params[name] = stored.reference
                # Shown in the text field if the form comes back with an error, so that
                # the file need not be chosen and sent again (nor stored twice).
                data = self.data.copy()
                data[f"p_{name}"] = params[name]
                self.data = data
                continue
            value = self.cleaned_data.get(f"p_{name}")
            if value is None or value == "":
                continue
            if name in self.json_params:
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValidationError(
                        f"{name}: not valid JSON ({exc.msg}).",
                        details=[{"field": f"parameters.{name}", "message": "not valid JSON"}],
                    ) from None
            params[name] = value
        return params

    def add_service_errors(self, exc: JobCenterError) -> None:
        """Show the service's field errors next to the fields they name."""
        details = exc.details if isinstance(exc.details, list) else []
        placed = False
        for detail in details:
            field = str(detail.get("field", ""))
            name = field.removeprefix("parameters.").split(".", 1)[0]
            if field.startswith("parameters.") and f"p_{name}" in self.fields:
                self.add_error(f"p_{name}", detail.get("message", exc.message))
                placed = True
        if not placed:
            self.add_error(None, exc.message)


MODES = [
    ("lines", "A list of URLs or lines: one job per line"),
    ("files", "Uploaded files: one job per file"),
    ("rows", "Parameter rows: JSON (a list of objects) or CSV (a header row)"),
]


class NewBatchForm(forms.Form):
    batch_name = forms.CharField(max_length=255)
    job_type = forms.ChoiceField(choices=job_type_choices)
    mode = forms.ChoiceField(choices=MODES, widget=forms.RadioSelect, initial="lines")
    parameter = forms.CharField(
        initial="source",
        required=False,  # rows name their parameters; lines and files default to "source"
        help_text="For lines and files: the parameter each line (or the upload) goes into.",
    )
    lines = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 80}), required=False)
    rows = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        required=False,
        help_text='JSON, e.g. [{"message": "a"}, {"message": "b"}], or CSV with a header '
        'row. A "job_name" key or column names the job.',
    )
    rows_file = forms.FileField(required=False, help_text="Or upload the JSON or CSV file.")
    shared_parameters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        required=False,
        initial="{}",
        help_text="JSON object: parameters every job gets (a line, file or row overrides them).",
    )
    upload_refs = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["job_type"].choices = job_type_choices()

    def clean_shared_parameters(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("shared_parameters") or "").strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('A JSON object, e.g. {} or {"steps": 3}.')
        return value

    def job_items(
        self, files: list[UploadedFile], owner: AbstractBaseUser | None = None
    ) -> list[dict[str, Any]]:
        """One dict per job to create: ``{"job_name", "parameters"}``, shared parameters
        merged in. Uploaded files are stored (their references kept in ``upload_refs`` so
        that the preview's "Create" does not need them sent again)."""
        data = self.cleaned_data
        shared = data["shared_parameters"]
        mode = data["mode"]
        parameter = data["parameter"].strip() or "source"
        items: list[dict[str, Any]] = []
        if mode == "lines":
            for line in (data.get("lines") or "").splitlines():
                if line.strip():
                    value = line.strip()
                    items.append(
                        {"job_name": value[:255], "parameters": {**shared, parameter: value}}
                    )
        elif mode == "files":
            refs = self.stored_refs()
            for upload in files:
                ref = services.add_upload(upload, upload.name or "upload", owner).reference
                refs.append([ref, upload.name or "upload"])
            self.cleaned_data["upload_refs"] = json.dumps(refs)
            for ref, name in refs:
                items.append({"job_name": name[:255], "parameters": {**shared, parameter: ref}})
        else:
            for row in self.parameter_rows():
                name = str(row.pop("job_name", "") or "")
                items.append({"job_name": name[:255], "parameters": {**shared, **row}})
        return items

    def stored_refs(self) -> list[list[str]]:
        """The files uploaded by an earlier preview, as ``[ref, name]`` pairs; anything
        else in the hidden field (it comes back from the browser) is left out."""
        try:
            refs = json.loads(self.cleaned_data.get("upload_refs") or "[]")
        except json.JSONDecodeError:
            return []
        if not isinstance(refs, list):
            return []
        return [
            [ref[0], str(ref[1])]
            for ref in refs
            if isinstance(ref, list)
            and len(ref) == 2
            and isinstance(ref[0], str)
            and ref[0].startswith(uploads.PREFIX)
        ]

    def parameter_rows(self) -> list[dict[str, Any]]:
        upload = self.cleaned_data.get("rows_file")
        if isinstance(upload, UploadedFile):
            text = upload.read().decode("utf-8-sig", errors="replace")
        else:
            text = self.cleaned_data.get("rows") or ""
        text = text.strip()
        if not text:
            return []
        if text[0] in "[{":
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    f"The rows are not valid JSON: {exc.msg} (line {exc.lineno}).",
                    details=[{"field": "rows", "message": "not valid JSON"}],
                ) from None
            rows = value if isinstance(value, list) else [value]
            if not all(isinstance(row, dict) for row in rows):
                raise ValidationError(
                    "JSON rows must be objects of parameters.",
                    details=[{"field": "rows", "message": "a list of objects"}],
                )
            return [dict(row) for row in rows]
        reader = csv.DictReader(io.StringIO(text))
        return [
            {key.strip(): value for key, value in row.items() if key and value not in ("", None)}
            for row in reader
        ]


def preview_errors(job_type: str, items: list[dict[str, Any]]) -> list[str]:
    """What the service would refuse, per job, before anything is stored (same checks)."""
    problems = []
    for position, item in enumerate(items):
        try:
            validate_parameters(job_type, item["parameters"], field_prefix=f"jobs[{position}].")
        except JobCenterError as exc:
            problems.append(f"Job {position + 1} ({item['job_name'] or 'unnamed'}): {exc.message}")
    return problems
