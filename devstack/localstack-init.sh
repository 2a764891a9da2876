#!/bin/sh
# Creates the patient-profile table in LocalStack, the same table store.CreateTable makes for the
# embedded stack: hash key PatientId (S), on-demand billing.
set -eu
awslocal dynamodb create-table \
  --table-name "${DDB_NAME:-patient-profile}" \
  --attribute-definitions AttributeName=PatientId,AttributeType=S \
  --key-schema AttributeName=PatientId,KeyType=HASH \
  --billing-mode PAY_PER_REQUEST || true
awslocal dynamodb wait table-exists --table-name "${DDB_NAME:-patient-profile}"
echo "table ${DDB_NAME:-patient-profile} ready"
