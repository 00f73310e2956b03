package all

import "mamori/pipeline/event"

type (
	eventAlert  = event.Alert
	eventRecord = event.Record
)
