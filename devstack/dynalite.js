#!/usr/bin/env node
// Runs dynalite's own CLI with one fix. dynalite 4.0.0 rethrows a request's 'error' event
// (index.js: `req.on('error', function (err) { throw err })`), so a client that goes away in the
// middle of a request, such as a consumer killed with SIGKILL, takes the whole server down with
// "Error: aborted" (ECONNRESET). Real DynamoDB shrugs that off, and the soak test kills
// consumers mid-request on purpose; so this keeps serving. Any other uncaught error still ends
// the process.
'use strict'

process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error('dynalite: a client went away mid-request (' + err.message + '); still serving')
    return
  }
  console.error(err)
  process.exit(1)
})

require('dynalite/cli.js')
