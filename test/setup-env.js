// Runs before each test file, before @sap/cds is loaded: serve the TypeScript implementations.
process.env.CDS_TYPESCRIPT = 'true'
