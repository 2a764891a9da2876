#!/bin/sh
# Creates the patient-profile table in LocalStack, the same table store.CreateTable makes for the
# embedded stack: hash key PatientId (S), on-demand billing, TTL on ExpiresAt (erased patients'
# tombstones expire through it).
set -eu
awslocal dynamodb create-table \
  --table-name "${DDB_NAME:-patient-profile}" \
  --attribute-definitions AttributeName=PatientId,AttributeType=S \
  --key-schema AttributeName=PatientId,KeyType=HASH \
  --billing-mode PAY_PER_REQUEST || true
awslocal dynamodb wait table-exists --table-name "${DDB_NAME:-patient-profile}"
awslocal dynamodb update-time-to-live --table-name "${DDB_NAME:-patient-profile}" \
  --time-to-live-specification Enabled=true,AttributeName=ExpiresAt || true
echo "table ${DDB_NAME:-patient-profile} ready"
