"""The Models page, the Deploy wizard and the Rollback dialog."""
