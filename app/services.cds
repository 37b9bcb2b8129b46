/*
 * The Fiori apps' annotations, loaded with the service: shared concerns first, then each app's layouts.
 */
using from './labels';
using from './value-helps';
using from './capabilities';
using from './layouts';
using from './serviceinstances/annotations';
using from './servicekeys/annotations';
using from './subaccounts/annotations';
using from './certificates/annotations';
